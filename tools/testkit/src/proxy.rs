//! A fault-injecting TCP proxy in front of a real server, for the faults a
//! real S3 server cannot be made to produce on cue: every request held for a
//! while, connections reset in the middle of a request body, and `503 Slow
//! Down` answers. It reads just enough HTTP/1.1 to find where each request
//! starts (the head, then `Content-Length` bytes of body), so a fault set
//! while a client keeps its connection alive hits its next request; answers
//! are copied back untouched.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the proxy does to each request from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward it.
    Pass,
    /// Hold it this long, then forward it.
    Delay(Duration),
    /// Forward the head and this many bytes of a body, then reset both
    /// connections; requests without a larger body pass.
    ResetMidBody(usize),
    /// Answer `503 Slow Down` (S3's "reduce your request rate") and close.
    Unavailable,
}

/// What happened to requests, for a test to check its faults were hit.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicUsize,
    pub delayed: AtomicUsize,
    pub reset: AtomicUsize,
    pub refused: AtomicUsize,
}

impl Counts {
    pub fn get(&self) -> [usize; 4] {
        [
            self.requests.load(Ordering::SeqCst),
            self.delayed.load(Ordering::SeqCst),
            self.reset.load(Ordering::SeqCst),
            self.refused.load(Ordering::SeqCst),
        ]
    }
}

struct Shared {
    upstream: SocketAddr,
    fault: Mutex<Fault>,
    counts: Counts,
    /// Each request's first line (`PUT /bucket/key?partNumber=2&… HTTP/1.1`).
    seen: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// The proxy, on a free loopback port; stopped when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> Self {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            fault: Mutex::new(Fault::Pass),
            counts: Counts::default(),
            seen: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = conn else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = relay(&s, client);
                });
            }
        });
        FaultProxy {
            endpoint: format!("http://{addr}"),
            addr,
            shared,
            accept: Some(accept),
        }
    }

    /// Apply `fault` to every request from now on.
    pub fn set(&self, fault: Fault) {
        *self.shared.fault.lock().unwrap() = fault;
    }

    pub fn counts(&self) -> &Counts {
        &self.shared.counts
    }

    /// The first line of every request so far, in order of arrival.
    pub fn requests(&self) -> Vec<String> {
        self.shared.seen.lock().unwrap().clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wake the accept loop
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// One client connection: requests one by one towards the server, answers
/// copied back by a second thread.
fn relay(s: &Shared, mut client: TcpStream) -> std::io::Result<()> {
    let mut server = TcpStream::connect(s.upstream)?;
    let (mut back_from, mut back_to) = (server.try_clone()?, client.try_clone()?);
    let resetting = Arc::new(AtomicBool::new(false));
    let r = resetting.clone();
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut back_from, &mut back_to);
        if !r.load(Ordering::SeqCst) {
            let _ = back_to.shutdown(Shutdown::Both);
        }
    });
    let mut buf: Vec<u8> = Vec::new();
    let result = loop {
        let Some(head_len) = read_head(&mut client, &mut buf)? else {
            break Ok(());
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
        s.counts.requests.fetch_add(1, Ordering::SeqCst);
        let line = String::from_utf8_lossy(&buf[..head_len]);
        let line = line.lines().next().unwrap_or_default().to_owned();
        s.seen.lock().unwrap().push(line);
        let body_len = header(&head, "content-length").unwrap_or(0);
        if head.contains("transfer-encoding:") {
            // Not framed by a length: no more requests are told apart.
            server.write_all(&buf)?;
            std::io::copy(&mut client, &mut server)?;
            break Ok(());
        }
        let fault = *s.fault.lock().unwrap();
        match fault {
            Fault::Pass => {}
            Fault::Delay(d) => {
                s.counts.delayed.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(d);
            }
            Fault::ResetMidBody(after) if body_len > after => {
                s.counts.reset.fetch_add(1, Ordering::SeqCst);
                server.write_all(&buf[..head_len])?;
                buf.drain(..head_len);
                forward(&mut client, &mut server, &mut buf, after)?;
                resetting.store(true, Ordering::SeqCst);
                reset(&client, &server);
                let _ = back.join();
                return Ok(()); // both dropped here: a reset each way
            }
            Fault::ResetMidBody(_) => {}
            Fault::Unavailable => {
                s.counts.refused.fetch_add(1, Ordering::SeqCst);
                if !head.contains("expect: 100-continue") {
                    buf.drain(..head_len);
                    forward(&mut client, &mut std::io::sink(), &mut buf, body_len)?;
                }
                let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                    <Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>";
                let _ = write!(
                    client,
                    "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                break Ok(());
            }
        }
        server.write_all(&buf[..head_len])?;
        buf.drain(..head_len);
        forward(&mut client, &mut server, &mut buf, body_len)?;
    };
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
    let _ = back.join();
    result
}

/// Read until `buf` holds a whole request head; its length, or None at the
/// end of the connection.
fn read_head(client: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(i + 4));
        }
        let mut chunk = [0u8; 16 << 10];
        let n = client.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Move `len` bytes from the client (the first from `buf`) to `to`.
fn forward(
    client: &mut TcpStream,
    to: &mut impl Write,
    buf: &mut Vec<u8>,
    len: usize,
) -> std::io::Result<()> {
    let first = len.min(buf.len());
    to.write_all(&buf[..first])?;
    buf.drain(..first);
    let mut left = len - first;
    let mut chunk = [0u8; 64 << 10];
    while left > 0 {
        let n = client.read(&mut chunk[..left.min(64 << 10)])?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        to.write_all(&chunk[..n])?;
        left -= n;
    }
    Ok(())
}

/// Make closing both connections a reset (SO_LINGER 0), as a dropped
/// network path or a crashed peer looks, and wake the answer thread (a read
/// shutdown sends nothing to the peer).
fn reset(client: &TcpStream, server: &TcpStream) {
    for s in [client, server] {
        let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
    }
    let _ = server.shutdown(Shutdown::Read);
}

fn header(head: &str, name: &str) -> Option<usize> {
    head.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|v| v.trim().parse().ok())
}
