//! One connection to the sound server and the record streams on it, driven
//! by libpulse's standard main loop on the source's own thread. The thread
//! sleeps in `poll` until the server sends something (a fragment every
//! 20 ms) or a timeout, so a whole class costs a few wake-ups per block.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use libpulse_binding::context::subscribe::{Facility, InterestMaskSet};
use libpulse_binding::context::{self, Context};
use libpulse_binding::def::BufferAttr;
use libpulse_binding::mainloop::standard::Mainloop;
use libpulse_binding::sample::{Format, Spec};
use libpulse_binding::stream::{self, PeekResult, Stream};
use libpulse_binding::time::MicroSeconds;

use super::gather::{Gather, BLOCK};
use super::tree;
use crate::audio::{AudioBlock, BlockSink};

/// Between attempts to reopen a lost stream.
pub const RETRY: Duration = Duration::from_millis(500);
/// The application's streams are listed again at least this often (besides
/// whenever the server says one came or went).
const RELIST: Duration = Duration::from_secs(2);

/// How a session ended.
#[derive(Debug)]
pub enum End {
    /// The source was dropped, or the recorder is gone.
    Stopped,
    /// The server went away (or never answered): reconnect later.
    Lost(String),
}

fn spec() -> Spec {
    Spec {
        format: Format::F32le,
        rate: 48_000,
        channels: 2,
    }
}

fn attr() -> BufferAttr {
    BufferAttr {
        maxlength: u32::MAX,
        tlength: u32::MAX,
        prebuf: u32::MAX,
        minreq: u32::MAX,
        fragsize: (BLOCK * 4) as u32,
    }
}

/// A connected context and its main loop.
pub struct Session {
    // Fields drop in order: the context must go before its main loop.
    ctx: Context,
    ml: Mainloop,
}

impl Session {
    /// Connect to the default server (PULSE_SERVER, the user's runtime
    /// directory) within 5 s.
    pub fn connect() -> Result<Self, String> {
        let ml = Mainloop::new().ok_or("PulseAudio: no main loop")?;
        let mut ctx = Context::new(&ml, "txcloudrecord").ok_or("PulseAudio: no context")?;
        ctx.connect(None, context::FlagSet::NOAUTOSPAWN, None)
            .map_err(|e| format!("PulseAudio: {e}"))?;
        let mut s = Self { ctx, ml };
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match s.ctx.get_state() {
                context::State::Ready => return Ok(s),
                context::State::Failed | context::State::Terminated => {
                    return Err(format!("PulseAudio: {}", s.ctx.errno()))
                }
                _ if Instant::now() > deadline => {
                    return Err("PulseAudio: the server did not answer in 5 s".into())
                }
                _ => s.wait(Duration::from_millis(100)),
            }
        }
    }

    /// Sleep until the server sends something, at most `timeout`.
    fn wait(&mut self, timeout: Duration) {
        let us = MicroSeconds(timeout.as_micros() as u64);
        if self.ml.prepare(Some(us)).is_ok() && self.ml.poll().is_ok() {
            let _ = self.ml.dispatch();
        }
    }

    /// Whether to end the session: the source was dropped, or the server
    /// went away.
    fn ended(&self, stop: &AtomicBool) -> Option<End> {
        if stop.load(Ordering::Relaxed) {
            return Some(End::Stopped);
        }
        match self.ctx.get_state() {
            context::State::Failed | context::State::Terminated => {
                Some(End::Lost(format!("PulseAudio: {}", self.ctx.errno())))
            }
            _ => None,
        }
    }

    /// A record stream on `dev`, monitoring only sink input `monitor` if
    /// set; `dont_move`: killed (not moved elsewhere) when `dev` goes away.
    fn stream(
        &mut self,
        dev: Option<&str>,
        monitor: Option<u32>,
        dont_move: bool,
    ) -> Result<Stream, String> {
        let mut s = Stream::new(&mut self.ctx, "class recording", &spec(), None)
            .ok_or("PulseAudio: cannot make a stream")?;
        if let Some(input) = monitor {
            s.set_monitor_stream(input)
                .map_err(|e| format!("PulseAudio: {e}"))?;
        }
        let mut flags = stream::FlagSet::ADJUST_LATENCY;
        if dont_move {
            flags |= stream::FlagSet::DONT_MOVE;
        }
        s.connect_record(dev, Some(&attr()), flags)
            .map_err(|e| format!("PulseAudio: {e}"))?;
        Ok(s)
    }

    /// Open a stream on `dev` and wait (≤ 3 s) until it records.
    pub fn device_stream(&mut self, dev: Option<&str>) -> Result<Stream, String> {
        let named = dev.is_some_and(|d| !d.starts_with('@'));
        let s = self.stream(dev, None, named)?;
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            match s.get_state() {
                stream::State::Ready => return Ok(s),
                stream::State::Failed | stream::State::Terminated => {
                    let what = dev.unwrap_or("the default source");
                    return Err(format!(
                        "PulseAudio: cannot record from {what}: {}",
                        self.ctx.errno()
                    ));
                }
                _ if Instant::now() > deadline => {
                    return Err("PulseAudio: the stream did not start in 3 s".into())
                }
                _ => self.wait(Duration::from_millis(50)),
            }
        }
    }

    /// Record `dev` until stopped or the server goes; a stream that dies
    /// (the device unplugged) is reopened every [`RETRY`].
    pub fn run_device(mut self, dev: Option<&str>, sink: &BlockSink, stop: &AtomicBool) -> End {
        let mut gather = Gather::default();
        let mut stream = None;
        let mut retry_at = Instant::now();
        let mut out = Vec::new();
        loop {
            if let Some(end) = self.ended(stop) {
                return end;
            }
            let now = Instant::now();
            if stream.is_none() && now >= retry_at {
                match self.device_stream(dev) {
                    Ok(s) => {
                        tracing::info!("sound device back");
                        stream = Some(s);
                    }
                    Err(_) => retry_at = Instant::now() + RETRY,
                }
            }
            if let Some(s) = &mut stream {
                match s.get_state() {
                    stream::State::Failed | stream::State::Terminated => {
                        tracing::warn!("sound device lost; reopening it every {RETRY:?}");
                        stream = None;
                        retry_at = now + RETRY;
                    }
                    _ => read(s, 0, &mut gather),
                }
            }
            if !emit(&mut gather, sink, &mut out) {
                return End::Stopped;
            }
            self.wait(Duration::from_millis(100));
        }
    }

    /// Record what the processes of `root`'s tree play: each of their sink
    /// inputs through its own monitor stream, summed; followed as they come
    /// and go. Nothing is delivered while they play nothing.
    pub fn run_app(mut self, root: u32, sink: &BlockSink, stop: &AtomicBool) -> End {
        let dirty = Rc::new(RefCell::new(true));
        let d = dirty.clone();
        self.ctx
            .set_subscribe_callback(Some(Box::new(move |facility, _, _| {
                if facility == Some(Facility::SinkInput) {
                    *d.borrow_mut() = true;
                }
            })));
        self.ctx.subscribe(InterestMaskSet::SINK_INPUT, |_| {});
        let mut gather = Gather::default();
        let mut streams: BTreeMap<u32, Stream> = BTreeMap::new();
        let mut listing: Option<Rc<RefCell<Listing>>> = None;
        let mut listed = Instant::now();
        let mut out = Vec::new();
        loop {
            if let Some(end) = self.ended(stop) {
                return end;
            }
            let now = Instant::now();
            let due = *dirty.borrow() || now.duration_since(listed) >= RELIST;
            if listing.is_none() && due {
                *dirty.borrow_mut() = false;
                listed = now;
                listing = Some(self.list());
            }
            if let Some(l) = listing.take_if(|l| l.borrow().pending == 0) {
                let tree = tree::descendants(&tree::processes(), root);
                let wanted = l.borrow().wanted(&tree);
                streams.retain(|idx, _| {
                    let keep = wanted.contains_key(idx);
                    if !keep {
                        gather.remove(*idx);
                    }
                    keep
                });
                for (idx, monitor) in wanted {
                    if streams.contains_key(&idx) {
                        continue;
                    }
                    match self.stream(Some(&monitor), Some(idx), true) {
                        Ok(s) => {
                            tracing::info!(sink_input = idx, "recording a stream of the class app");
                            streams.insert(idx, s);
                        }
                        Err(e) => tracing::warn!(sink_input = idx, "{e}"),
                    }
                }
            }
            streams.retain(|idx, s| match s.get_state() {
                stream::State::Failed | stream::State::Terminated => {
                    gather.remove(*idx);
                    false
                }
                _ => {
                    read(s, *idx, &mut gather);
                    true
                }
            });
            if !emit(&mut gather, sink, &mut out) {
                return End::Stopped;
            }
            self.wait(Duration::from_millis(50));
        }
    }

    /// Ask for the sinks and sink inputs; the answer fills in as the loop runs.
    fn list(&mut self) -> Rc<RefCell<Listing>> {
        let l = Rc::new(RefCell::new(Listing {
            pending: 2,
            ..Listing::default()
        }));
        let introspect = self.ctx.introspect();
        let a = l.clone();
        introspect.get_sink_info_list(move |r| {
            use libpulse_binding::callbacks::ListResult;
            let mut l = a.borrow_mut();
            match r {
                ListResult::Item(s) => {
                    if let Some(m) = &s.monitor_source_name {
                        l.monitors.insert(s.index, m.to_string());
                    }
                }
                ListResult::End | ListResult::Error => l.pending -= 1,
            }
        });
        let b = l.clone();
        introspect.get_sink_input_info_list(move |r| {
            use libpulse_binding::callbacks::ListResult;
            let mut l = b.borrow_mut();
            match r {
                ListResult::Item(i) => {
                    let pid = i
                        .proplist
                        .get_str("application.process.id")
                        .and_then(|p| p.parse().ok());
                    l.inputs.push((i.index, i.sink, pid));
                }
                ListResult::End | ListResult::Error => l.pending -= 1,
            }
        });
        l
    }
}

/// The server's sinks and sink inputs, as last listed.
#[derive(Debug, Default)]
struct Listing {
    pending: u8,
    /// Sink index → its monitor source's name.
    monitors: HashMap<u32, String>,
    /// Sink input index, its sink, the process that plays it.
    inputs: Vec<(u32, u32, Option<u32>)>,
}

impl Listing {
    /// The sink inputs played by a process of `tree` → the monitor source
    /// to record each from.
    fn wanted(&self, tree: &HashSet<u32>) -> BTreeMap<u32, String> {
        self.inputs
            .iter()
            .filter(|(_, _, pid)| pid.is_some_and(|p| tree.contains(&p)))
            .filter_map(|(idx, sink, _)| Some((*idx, self.monitors.get(sink)?.clone())))
            .collect()
    }
}

/// Take every fragment the stream has.
fn read(s: &mut Stream, key: u32, gather: &mut Gather) {
    loop {
        match s.peek() {
            Ok(PeekResult::Data(bytes)) => {
                gather.push(
                    key,
                    bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
                let _ = s.discard();
            }
            Ok(PeekResult::Hole(_)) => {
                let _ = s.discard();
            }
            Ok(PeekResult::Empty) | Err(_) => return,
        }
    }
}

/// Hand the gathered blocks to the recorder; false once it is gone.
fn emit(gather: &mut Gather, sink: &BlockSink, out: &mut Vec<Vec<f32>>) -> bool {
    let now = Instant::now();
    gather.blocks(out);
    out.drain(..).all(|samples| {
        sink.push(AudioBlock {
            samples,
            captured_at: now,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_streams_of_the_apps_processes_are_recorded_each_from_its_sinks_monitor() {
        let l = Listing {
            pending: 0,
            monitors: HashMap::from([
                (0, "speakers.monitor".into()),
                (1, "headset.monitor".into()),
            ]),
            // The app's helper on the headset, the app itself on the
            // speakers, another program, a stream with no process, one on a
            // sink that is gone.
            inputs: vec![
                (7, 1, Some(101)),
                (8, 0, Some(100)),
                (9, 0, Some(555)),
                (10, 0, None),
                (11, 4, Some(100)),
            ],
        };
        let tree = tree::descendants(&[(101, 100), (555, 1)], 100);
        let wanted = l.wanted(&tree);
        assert_eq!(
            wanted,
            BTreeMap::from([
                (7, "headset.monitor".to_owned()),
                (8, "speakers.monitor".to_owned())
            ])
        );
    }
}
