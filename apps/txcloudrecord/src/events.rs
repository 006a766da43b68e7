//! `GET /localrecord/v1/Events`: the live progress stream (server-sent
//! events, see `txcr_protocol::events`). Each client gets a task that reads
//! the service's state every [`TICK`], and at once after a command, and
//! sends what changed; nothing is computed for nobody.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::body::{Body, Bytes, Frame};
use tokio::sync::mpsc;
use txcr_protocol::events::{diff, Event};
use txcr_protocol::StateView;
use txcr_state::Caller;

use crate::app::App;

/// How often a client's state is compared with what it was last sent.
const TICK: Duration = Duration::from_millis(250);
/// A comment line this often keeps proxies and idle timers from closing the
/// stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A response body fed from a channel: the stream ends when the sender goes.
#[derive(Debug)]
pub struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

/// Start streaming to `caller`; `Err` when it may not read the state.
pub fn open(app: &Arc<App>, caller: Caller) -> Result<ChannelBody, txcr_protocol::ApiError> {
    app.service.snapshot(&caller)?;
    let (tx, rx) = mpsc::channel::<Bytes>(32);
    let app = app.clone();
    tokio::spawn(async move {
        let mut closing = app.closing.subscribe();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut prev: Option<StateView> = None;
        let mut last_sent = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = app.changed.notified() => {}
                _ = tx.closed() => return,
                _ = closing.changed() => return,
            }
            let mut out = String::new();
            match app.service.snapshot(&caller) {
                Ok(state) => {
                    for e in diff(prev.as_ref(), &state) {
                        out.push_str(&e.to_sse());
                    }
                    prev = Some(state);
                }
                Err(e) => {
                    // The session went to another origin: say so and end.
                    let _ = tx.send(Event::error(&e).to_sse().into()).await;
                    return;
                }
            }
            if out.is_empty() && last_sent.elapsed() >= KEEP_ALIVE {
                out.push_str(": keep-alive\n\n");
            }
            if !out.is_empty() {
                last_sent = Instant::now();
                if tx.send(out.into()).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(ChannelBody(rx))
}
