//! Insert rate of the history database: 1,000,000 port observations through
//! the batched writer into a fresh file, committed every 10,000 rows.
//!
//! Run: `cargo bench -p scry-store --bench insert`; with
//! `SCRY_STORE_BENCH_POSTGRES=postgres://USER@HOST:PORT/postgres` the same
//! on a new database `scry_bench` of that server.
//! Each iteration writes `ROWS` observations (1000 hosts x 1000 ports, as
//! a `-p-` scan of many hosts records them) and finishes the scan, so
//! criterion's throughput is rows/s. Setup (a new file and scan row) is not
//! timed. Figures go in docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scry_probe::services::Protocol;
use scry_probe::state::PortState;
use scry_store::*;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime};

const ROWS: u32 = 1_000_000;
const PORTS: u32 = 1000;

fn new_scan() -> NewScan {
    let first = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 0));
    let last = IpAddr::V4(Ipv4Addr::new(198, 18, 3, 231));
    NewScan {
        scope: Scope {
            targets: vec!["198.18.0.0-3.231".into()],
            ranges: vec![(first, last)],
            ports: vec![(Protocol::Tcp, (1..=PORTS as u16).collect())],
            scan_types: vec!["syn".into()],
            shard: (1, 1),
            ..Scope::default()
        },
        args: "bench".into(),
        version: "0.1.0".into(),
        started: SystemTime::now(),
    }
}

fn observation(n: u32, seen: SystemTime) -> Observation {
    let host = n / PORTS;
    let ip = IpAddr::V4(Ipv4Addr::new(198, 18, (host / 256) as u8, (host % 256) as u8));
    let open = n % 7 == 0;
    Observation::Port(PortObservation {
        ip,
        protocol: Protocol::Tcp,
        port: (n % PORTS + 1) as u16,
        state: if open { PortState::Open } else { PortState::Closed },
        reason: if open { "syn-ack" } else { "reset" }.into(),
        ttl: Some(64),
        service: Service { name: open.then(|| "http".into()), ..Service::default() },
        seen,
    })
}

/// A fresh, empty history database.
type Fresh = dyn Fn() -> (Box<dyn History>, Option<tempfile::TempDir>);

fn fresh_sqlite() -> (Box<dyn History>, Option<tempfile::TempDir>) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let store = Store::open(dir.path().join("history.db")).unwrap();
    (Box::new(store), Some(dir))
}

/// A new database `scry_bench` on the server of `admin_url` (any database
/// there the user may connect to), dropped first if it exists.
fn fresh_postgres(admin_url: &str) -> (Box<dyn History>, Option<tempfile::TempDir>) {
    let mut admin = postgres::Client::connect(admin_url, postgres::NoTls).unwrap();
    // One statement each: neither may run inside a transaction block.
    admin.batch_execute("DROP DATABASE IF EXISTS scry_bench WITH (FORCE)").unwrap();
    admin.batch_execute("CREATE DATABASE scry_bench").unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    (scry_store::open(&format!("{base}/scry_bench")).unwrap(), None)
}

/// Times `write` over fresh databases, `iters` times.
fn timed(iters: u64, fresh: &Fresh, mut write: impl FnMut(&dyn History, ScanId) -> Duration) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let (mut store, _dir) = fresh();
        let id = store.begin_scan(&new_scan()).unwrap();
        total += write(&*store, id);
    }
    total
}

fn insert(c: &mut Criterion) {
    let mut group = c.benchmark_group("history insert");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(35));
    group.throughput(Throughput::Elements(ROWS.into()));
    let options = WriterOptions { batch_rows: 10_000, batch_interval: Duration::from_millis(500) };
    let postgres = std::env::var("SCRY_STORE_BENCH_POSTGRES").ok();
    let mut backends: Vec<(&str, Box<Fresh>)> = vec![("", Box::new(fresh_sqlite))];
    if let Some(url) = postgres {
        backends.push(("postgres ", Box::new(move || fresh_postgres(&url))));
    }
    for (name, fresh) in &backends {
        group.bench_function(format!("{name}writer, 1M port rows"), |b| {
            b.iter_custom(|iters| {
                timed(iters, &**fresh, |store, id| {
                    let start = Instant::now();
                    let mut w = store.writer(id, options).unwrap();
                    let seen = SystemTime::now();
                    for n in 0..ROWS {
                        w.push(observation(n, seen)).unwrap();
                    }
                    w.finish(ScanStatus::Complete, &ScanStats::default(), SystemTime::now()).unwrap();
                    start.elapsed()
                })
            })
        });
        group.bench_function(format!("{name}spawned writer, 1M port rows"), |b| {
            b.iter_custom(|iters| {
                timed(iters, &**fresh, |store, id| {
                    let start = Instant::now();
                    let w = store.writer(id, options).unwrap().spawn();
                    let seen = SystemTime::now();
                    for n in 0..ROWS {
                        w.send(observation(n, seen)).unwrap();
                    }
                    w.finish(ScanStatus::Complete, ScanStats::default(), SystemTime::now()).unwrap();
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, insert);
criterion_main!(benches);
