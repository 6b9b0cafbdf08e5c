//! Measures what one Prometheus scrape of `/metrics` costs while the demo
//! runs at full rate, and how many series it exports, for several CRM sizes.
//!
//! For each `--customers N` it starts `SWITCHBOARD demo --customers N` on a
//! free port, waits until the pipeline produces work items, then times
//! `--scrapes` sequential GETs of `/metrics` (connect to last byte, one every
//! `--every-ms`) and prints the median, p95 and max, the body size and the
//! series count (non-comment, non-empty lines) at the first and last scrape.
//! Wall time includes waiting for a CPU when the machine is saturated, so it
//! also prints the CPU time the demo's `sb-io` thread (which serves
//! `/metrics`) spent per scrape: its CPU time while scraping minus its CPU
//! time over an equally long window without scrapes, divided by the scrapes
//! (from `/proc/PID/task/TID/stat`, clock ticks).
//!
//! Run (release build, the demo's default rate of 20,000 mentions/s):
//! `cargo build --release -p switchboard -p switchboard-benches --bins`
//! `target/release/scrape_cost target/release/switchboard --customers 10000 --customers 1000000`

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

fn series(body: &str) -> usize {
    body.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .count()
}

fn value(body: &str, prefix: &str) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// CPU time (utime + stime, seconds) of the process's thread named `name`.
fn thread_cpu(pid: u32, name: &str) -> Option<f64> {
    let tick = 100.0; // USER_HZ on Linux
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let dir = t.ok()?.path();
        if std::fs::read_to_string(dir.join("comm")).ok()?.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        let rest = stat.rsplit_once(") ")?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (u, s): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
        return Some((u + s) / tick);
    }
    None
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(bin) = args.next() else {
        eprintln!("usage: scrape_cost SWITCHBOARD_BIN [--customers N]... [--scrapes 200] [--every-ms 50] [--rate 20000]");
        std::process::exit(2);
    };
    let (mut customers, mut scrapes, mut every_ms, mut rate) =
        (Vec::new(), 200usize, 50u64, 20_000u64);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--customers" => customers.push(v.parse::<u64>().expect("--customers N")),
            "--scrapes" => scrapes = v.parse().expect("--scrapes N"),
            "--every-ms" => every_ms = v.parse().expect("--every-ms N"),
            "--rate" => rate = v.parse().expect("--rate N"),
            _ => panic!("unknown argument {a}"),
        }
    }
    if customers.is_empty() {
        customers = vec![10_000, 1_000_000];
    }
    println!("scrape_cost: {scrapes} scrapes every {every_ms} ms, demo at {rate} mentions/s");
    for n in customers {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("scrape_cost_demo_{n}.log")))
                .unwrap();
        let demo = Demo(
            Command::new(&bin)
                .args(["demo", "--duration", "600s", "--metrics-addr", &addr])
                .args(["--customers", &n.to_string(), "--rate", &rate.to_string()])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start the demo"),
        );
        // Wait until the whole pipeline runs: records consumed and work items out.
        let t0 = Instant::now();
        let first = loop {
            if let Ok(b) = get(&addr, "/metrics") {
                if value(&b, "switchboard_source_records_total") > 0.0
                    && value(&b, "switchboard_workitems_events_total") > 0.0
                {
                    break b;
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "the demo never produced work items"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        std::thread::sleep(Duration::from_secs(5));
        let pid = demo.0.id();
        let mut ms = Vec::with_capacity(scrapes);
        let mut last = String::new();
        let (c0, w0) = (thread_cpu(pid, "sb-io"), Instant::now());
        for _ in 0..scrapes {
            let t = Instant::now();
            last = get(&addr, "/metrics").expect("scrape");
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            std::thread::sleep(Duration::from_millis(every_ms));
        }
        let (c1, window) = (thread_cpu(pid, "sb-io"), w0.elapsed());
        std::thread::sleep(window);
        let c2 = thread_cpu(pid, "sb-io");
        let cpu_ms = match (c0, c1, c2) {
            (Some(a), Some(b), Some(c)) => format!(
                "{:.2} ms",
                ((b - a) - (c - b)).max(0.0) * 1e3 / scrapes as f64
            ),
            _ => "n/a".into(),
        };
        ms.sort_by(|a, b| a.total_cmp(b));
        println!(
            "customers {n:>9}: median {:.2} ms, p95 {:.2} ms, max {:.2} ms, server CPU {cpu_ms} per scrape | {} bytes | series {} at start, {} at end | records consumed {:.0}, work-item events {:.0}",
            pct(&ms, 0.5),
            pct(&ms, 0.95),
            ms[ms.len() - 1],
            last.len(),
            series(&first),
            series(&last),
            value(&last, "switchboard_source_records_total"),
            value(&last, "switchboard_workitems_events_total"),
        );
    }
}
