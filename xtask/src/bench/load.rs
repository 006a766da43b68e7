//! GetState under load: clients on keep-alive connections, each asking at a
//! steady rate (far beyond what a classroom app polls), every answer timed.
//! Beside it, in the same run, the same clients ask a [`Floor`]: a blocking
//! thread per connection that reads the request and writes a stored copy of
//! the service's answer, doing no work. What the floor's tail shows is the
//! machine's (waking a thread, loopback TCP), not the service's.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Latency percentiles of the answers, microseconds.
#[derive(Debug, Default)]
pub struct Latency {
    pub requests: usize,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

fn one(conn: &mut BufReader<TcpStream>, port: u16) -> anyhow::Result<()> {
    write!(
        conn.get_mut(),
        "POST /localrecord/v1/GetState HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        if conn.read_line(&mut line)? == 0 {
            bail!("connection closed");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().context("content-length")?;
            }
        }
    }
    let mut body = vec![0; len];
    conn.read_exact(&mut body)?;
    if !body.starts_with(b"{\"Response\"") {
        bail!("not an answer: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// The floor: answers every request on its port with `answer`, at once.
pub struct Floor {
    pub port: u16,
}

impl Floor {
    /// Serve `answer` (a whole HTTP response) to every request, on threads
    /// that end with their connections (the listener's with the process).
    pub fn start(answer: Vec<u8>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let answer = std::sync::Arc::new(answer);
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let answer = answer.clone();
                std::thread::spawn(move || serve_floor(conn, &answer));
            }
        });
        Ok(Self { port })
    }
}

fn serve_floor(conn: TcpStream, answer: &[u8]) {
    let _ = conn.set_nodelay(true);
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line.trim_end().is_empty() => {
                if reader.get_mut().write_all(answer).is_err() {
                    return;
                }
            }
            Ok(_) => {}
        }
    }
}

/// One whole HTTP response to a GetState, as the service answers it now.
pub fn answer_of(port: u16) -> anyhow::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(("127.0.0.1", port))?;
    write!(
        conn,
        "POST /localrecord/v1/GetState HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut all = Vec::new();
    conn.read_to_end(&mut all)?;
    // The floor keeps the connection open: the same head without `close`.
    let text = String::from_utf8_lossy(&all).replace("connection: close\r\n", "");
    Ok(text.into_bytes())
}

/// `clients` connections, each sending `per_sec` GetStates a second for `secs`.
pub fn run(port: u16, clients: usize, per_sec: u32, secs: u64) -> anyhow::Result<Latency> {
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            std::thread::spawn(move || -> anyhow::Result<Vec<u64>> {
                let mut conn = BufReader::new(TcpStream::connect(("127.0.0.1", port))?);
                conn.get_ref().set_nodelay(true)?;
                let gap = Duration::from_secs_f64(1.0 / f64::from(per_sec.max(1)));
                let end = Instant::now() + Duration::from_secs(secs);
                let mut next = Instant::now();
                let mut took = Vec::new();
                while next < end {
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let t = Instant::now();
                    one(&mut conn, port)?;
                    took.push(t.elapsed().as_micros() as u64);
                    next += gap;
                }
                Ok(took)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(
            t.join()
                .map_err(|_| anyhow::anyhow!("load thread panicked"))??,
        );
    }
    all.sort_unstable();
    let at = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(Latency {
        requests: all.len(),
        p50: at(0.50),
        p99: at(0.99),
        max: all.last().copied().unwrap_or(0),
    })
}
