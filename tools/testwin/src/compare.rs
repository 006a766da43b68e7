//! `txcr-testwin --compare FILE --size WxH --scene S [--fps N]`: how
//! faithfully a recording of this window shows what was painted, as a player
//! shows it at N (default 30) frames a second. Each decoded frame's time
//! stamp says which picture it is; that picture is painted again here and the
//! luma compared (grey scenes have the same luma under any RGB→YUV matrix, so
//! recordings by any encoder compare fairly). Prints one line:
//! `frames=N psnr=DB min_psnr=DB unreadable=K` (PSNR of the mean squared error
//! over the frames compared, as ffmpeg's `psnr` filter averages; `unreadable`
//! frames show no time stamp, e.g. black before the window was first painted,
//! and are counted, not compared).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use txcr_capture::{decode_stamp, FrameSource, Region, Scene, TestPattern};
use txcr_core::VideoFrame;

type Error = Box<dyn std::error::Error>;

/// Limited-range luma of a grey level (BT.601 and BT.709 agree on grey).
fn luma(grey: u8) -> f64 {
    16.0 + 219.0 * f64::from(grey) / 255.0
}

fn psnr(mse: f64) -> f64 {
    if mse <= 0.0 {
        100.0
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    }
}

pub fn run(file: &str, (w, h): (u32, u32), scene: Scene, fps: u32) -> Result<(), Error> {
    if scene == Scene::Bars {
        return Err("--compare needs a grey scene (--scene document|slides)".into());
    }
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i", file, "-map", "0:v:0"])
        // As a player shows it: `fps` pictures a second, each the frame due
        // then (a frame held until the next one is shown again).
        .args(["-vf", &format!("fps={fps}")])
        .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
        .stdout(Stdio::piped())
        .spawn()?;
    let mut out = ffmpeg.stdout.take().ok_or("no ffmpeg stdout")?;
    let luma_len = w as usize * h as usize;
    let mut buf = vec![0u8; luma_len * 3 / 2];
    let mut pattern = TestPattern::with_scene(w, h, Region::default(), scene)?;
    let mut reference = VideoFrame::new(w, h);
    let table: Vec<f64> = (0..=255u8).map(luma).collect();
    let (mut frames, mut unreadable, mut sum, mut worst) = (0u64, 0u64, 0.0f64, f64::MAX);
    while out.read_exact(&mut buf).is_ok() {
        let y = &buf[..luma_len];
        // No stamp, or stamp 0 (a black frame: the window had not been
        // painted yet when it was grabbed): not a picture of the scene.
        let Some(ms) = decode_stamp(y, w as usize).filter(|&ms| ms > 0) else {
            unreadable += 1;
            continue;
        };
        reference.pts = Duration::from_millis(ms);
        pattern.grab(&mut reference)?;
        let mut err = 0.0f64;
        for (row, px) in y.chunks_exact(w as usize).enumerate() {
            let want = reference.row(row as u32);
            for (&got, bgra) in px.iter().zip(want.chunks_exact(4)) {
                let d = f64::from(got) - table[usize::from(bgra[0])];
                err += d * d;
            }
        }
        let mse = err / luma_len as f64;
        sum += mse;
        worst = worst.min(psnr(mse));
        frames += 1;
    }
    let status = ffmpeg.wait()?;
    if !status.success() {
        return Err(format!("ffmpeg could not decode {file}").into());
    }
    let mean = if frames == 0 {
        0.0
    } else {
        sum / frames as f64
    };
    println!(
        "frames={frames} psnr={:.2} min_psnr={:.2} unreadable={unreadable}",
        psnr(mean),
        if frames == 0 { 0.0 } else { worst }
    );
    Ok(())
}
