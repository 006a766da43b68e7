use std::io::Write;
use std::time::{Duration, Instant};

use txcr_capture::{FrameSource, Region, Scene, TestPattern};
use txcr_core::VideoFrame;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ConnectionExt, CreateWindowAux, EventMask, ImageFormat, PropMode, WindowClass,
};
use x11rb::protocol::Event;
use x11rb::wrapper::ConnectionExt as _;

type Error = Box<dyn std::error::Error>;

struct Args {
    size: (u16, u16),
    pos: (i16, i16),
    solid: Option<[u8; 4]>,
    title: String,
    fps: u32,
    scene: Scene,
    compare: Option<String>,
}

fn parse(args: Vec<String>) -> Result<Args, Error> {
    let mut a = Args {
        size: (640, 360),
        pos: (0, 0),
        solid: None,
        title: "txcr-testwin".into(),
        fps: 30,
        scene: Scene::Bars,
        compare: None,
    };
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--size" => {
                let (w, h) = v.split_once('x').ok_or("--size WxH")?;
                a.size = (w.parse()?, h.parse()?);
            }
            "--pos" => {
                let (x, y) = v.split_once(',').ok_or("--pos X,Y")?;
                a.pos = (x.parse()?, y.parse()?);
            }
            "--solid" => {
                let rgb = u32::from_str_radix(&v, 16)?;
                a.solid = Some([
                    (rgb & 0xff) as u8,
                    (rgb >> 8 & 0xff) as u8,
                    (rgb >> 16 & 0xff) as u8,
                    0,
                ]);
            }
            "--title" => a.title = v,
            "--fps" => a.fps = v.parse::<u32>()?.clamp(1, 120),
            "--scene" => a.scene = v.parse()?,
            "--compare" => a.compare = Some(v),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(a)
}

pub fn run(args: Vec<String>) -> Result<(), Error> {
    let args = parse(args)?;
    if let Some(file) = &args.compare {
        let size = (u32::from(args.size.0), u32::from(args.size.1));
        return crate::compare::run(file, size, args.scene, args.fps);
    }
    let (conn, screen_num) = x11rb::connect(None)?;
    let screen = &conn.setup().roots[screen_num];
    let win = conn.generate_id()?;
    conn.create_window(
        24,
        win,
        screen.root,
        args.pos.0,
        args.pos.1,
        args.size.0,
        args.size.1,
        0,
        WindowClass::INPUT_OUTPUT,
        screen.root_visual,
        &CreateWindowAux::new().event_mask(EventMask::STRUCTURE_NOTIFY | EventMask::EXPOSURE),
    )?;
    let pid_atom = conn.intern_atom(false, b"_NET_WM_PID")?.reply()?.atom;
    conn.change_property32(
        PropMode::REPLACE,
        win,
        pid_atom,
        AtomEnum::CARDINAL,
        &[std::process::id()],
    )?;
    conn.change_property8(
        PropMode::REPLACE,
        win,
        AtomEnum::WM_NAME,
        AtomEnum::STRING,
        args.title.as_bytes(),
    )?;
    let gc = conn.generate_id()?;
    conn.create_gc(gc, win, &Default::default())?;
    conn.map_window(win)?;
    conn.sync()?;
    println!("{win}");
    std::io::stdout().flush()?;

    let start = Instant::now();
    let (mut w, mut h) = (u32::from(args.size.0), u32::from(args.size.1));
    let mut pattern = TestPattern::with_scene(w, h, Region::default(), args.scene)?;
    let mut frame = VideoFrame::new(w, h);
    // Painted in bands into a pixmap, then copied to the window in one
    // request: the X server runs requests one at a time, so a grab sees a
    // whole frame, never the top of one and the bottom of the last.
    let mut pixmap = conn.generate_id()?;
    conn.create_pixmap(24, pixmap, win, w as u16, h as u16)?;
    // What the window shows now; only what differs from it is painted, as a
    // real application repaints only what changed (None: paint it all).
    let mut shown: Option<VideoFrame> = None;
    loop {
        while let Some(ev) = conn.poll_for_event()? {
            match ev {
                Event::DestroyNotify(_) => return Ok(()),
                Event::ConfigureNotify(e)
                    if (u32::from(e.width), u32::from(e.height)) != (w, h) =>
                {
                    (w, h) = (u32::from(e.width).max(16), u32::from(e.height).max(16));
                    pattern = TestPattern::with_scene(w, h, Region::default(), args.scene)?;
                    frame = VideoFrame::new(w, h);
                    shown = None;
                    conn.free_pixmap(pixmap)?;
                    pixmap = conn.generate_id()?;
                    conn.create_pixmap(24, pixmap, win, w as u16, h as u16)?;
                }
                Event::Expose(_) => shown = None,
                _ => {}
            }
        }
        match args.solid {
            Some(px) => frame
                .data
                .chunks_exact_mut(4)
                .for_each(|p| p.copy_from_slice(&px)),
            None => {
                frame.pts = start.elapsed();
                pattern.grab(&mut frame)?;
            }
        }
        if let Some((x, y, cw, ch)) = changed(shown.as_ref(), &frame) {
            paint(&conn, (pixmap, win, gc), &frame, (x, y, cw, ch))?;
            conn.sync()?;
            match &mut shown {
                Some(s) => s.data.copy_from_slice(&frame.data),
                None => shown = Some(frame.clone()),
            }
        }
        std::thread::sleep(Duration::from_millis(u64::from(1000 / args.fps)));
    }
}

/// The rectangle (x, y, width, height) in which `now` differs from `shown`:
/// all of it with nothing shown, `None` when they are the same.
fn changed(shown: Option<&VideoFrame>, now: &VideoFrame) -> Option<(u32, u32, u32, u32)> {
    let Some(shown) = shown else {
        return Some((0, 0, now.width, now.height));
    };
    let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
    for y in 0..now.height {
        let (a, b) = (shown.row(y), now.row(y));
        if a == b {
            continue;
        }
        let px = |i: usize| (i / 4) as u32;
        let first = a.iter().zip(b).position(|(p, q)| p != q).map_or(0, px);
        let last = a.iter().zip(b).rposition(|(p, q)| p != q).map_or(0, px);
        (x0, x1) = (x0.min(first), x1.max(last + 1));
        (y0, y1) = (y0.min(y), y + 1);
    }
    (y1 > 0).then(|| (x0, y0, x1 - x0, y1 - y0))
}

/// Paint a rectangle of `frame`: into the pixmap in bands (each request well
/// under the server's limit), then onto the window in one request, so a grab
/// sees a whole frame, never the top of one and the bottom of the last.
fn paint(
    conn: &impl Connection,
    (pixmap, win, gc): (u32, u32, u32),
    frame: &VideoFrame,
    (x, y, w, h): (u32, u32, u32, u32),
) -> Result<(), Error> {
    let band = (60_000 / (w as usize * 4)).max(1) as u32;
    let mut bytes = Vec::with_capacity(band as usize * w as usize * 4);
    let mut top = y;
    while top < y + h {
        let rows = band.min(y + h - top);
        bytes.clear();
        for r in top..top + rows {
            bytes.extend_from_slice(&frame.row(r)[x as usize * 4..(x + w) as usize * 4]);
        }
        conn.put_image(
            ImageFormat::Z_PIXMAP,
            pixmap,
            gc,
            w as u16,
            rows as u16,
            x as i16,
            top as i16,
            0,
            24,
            &bytes,
        )?;
        top += rows;
    }
    conn.copy_area(
        pixmap, win, gc, x as i16, y as i16, x as i16, y as i16, w as u16, h as u16,
    )?;
    Ok(())
}
