//! GetState under load: clients on keep-alive connections, each asking at a
//! steady rate (far beyond what a classroom app polls), every answer timed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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
