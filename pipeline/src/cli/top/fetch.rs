//! One reading of an instance: `/metrics` parsed, `/readyz` as it
//! answers. A plain HTTP/1.1 GET over a socket: the endpoints are
//! Switchboard's own (no TLS, no redirects, a `content-length` body), and
//! the runtime carries no HTTP client.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::metrics::exposition::Scrape;
use crate::PipelineError;

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// One reading of an instance.
pub(super) struct Reading {
    /// When `/metrics` answered.
    pub(super) at: Instant,
    /// What it served.
    pub(super) scrape: Scrape,
    /// `/readyz`'s answer: `ready: …` or `not ready: …`.
    pub(super) ready: String,
}

impl Reading {
    /// Reads `/metrics` and `/readyz` of the instance at `addr`.
    pub(super) fn take(addr: &str) -> crate::Result<Self> {
        let (status, body) = get(addr, "/metrics")?;
        if status != 200 {
            return Err(PipelineError::Runtime(format!(
                "http://{addr}/metrics answered {status}"
            )));
        }
        let at = Instant::now();
        let ready = match get(addr, "/readyz") {
            Ok((_, text)) => text.trim().to_string(),
            Err(e) => format!("readiness unknown: {e}"),
        };
        Ok(Self {
            at,
            scrape: Scrape::parse(&body),
            ready,
        })
    }
}

/// `host:port` from what a user may paste: `http://host:port/metrics`.
pub(super) fn host_port(addr: &str) -> &str {
    let a = addr.strip_prefix("http://").unwrap_or(addr);
    a.split('/').next().unwrap_or(a)
}

/// GET `path`: the status and the body.
fn get(addr: &str, path: &str) -> crate::Result<(u16, String)> {
    let err =
        |e: std::io::Error| PipelineError::Runtime(format!("cannot read http://{addr}{path}: {e}"));
    let sock = addr
        .to_socket_addrs()
        .map_err(err)?
        .next()
        .ok_or_else(|| err(std::io::ErrorKind::AddrNotAvailable.into()))?;
    let mut s = TcpStream::connect_timeout(&sock, TIMEOUT).map_err(err)?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(err)?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(err)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(err)?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(err)?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| err(std::io::ErrorKind::InvalidData.into()))?;
    Ok((status, body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn pasted_urls_become_host_and_port() {
        assert_eq!(host_port("127.0.0.1:9898"), "127.0.0.1:9898");
        assert_eq!(host_port("http://10.0.0.5:9898/metrics"), "10.0.0.5:9898");
    }
}
