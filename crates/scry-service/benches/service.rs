//! Hot paths of version detection: loading nmap's whole
//! nmap-service-probes (every regex compiled) and matching one reply the
//! way every read does — against a probe's whole fallback chain.
//!
//! `cargo bench -p scry-service --bench service -- --quick`; needs nmap's
//! `/usr/share/nmap/nmap-service-probes` (skipped without it).

use std::path::Path;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use scry_service::{ProbeDb, Protocol};

const SYSTEM_DB: &str = "/usr/share/nmap/nmap-service-probes";

/// First match over the chain, as ServiceScan does after each read.
fn chain_match(db: &ProbeDb, probe: &str, reply: &[u8]) -> Option<usize> {
    let id = db.find(Protocol::Tcp, probe).expect("probe exists");
    db.probe(id).fallbacks().iter().find_map(|&fb| db.probe(fb).first_match(reply)).map(|m| m.line)
}

fn benches(c: &mut Criterion) {
    if !Path::new(SYSTEM_DB).is_file() {
        eprintln!("skipping scry-service benches: {SYSTEM_DB} is missing (install nmap)");
        return;
    }
    c.bench_function("load nmap-service-probes", |b| {
        b.iter(|| ProbeDb::load(black_box(Path::new(SYSTEM_DB))).expect("loads"));
    });
    let db = ProbeDb::load(Path::new(SYSTEM_DB)).expect("loads");
    let ssh = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
    assert!(chain_match(&db, "NULL", ssh).is_some());
    c.bench_function("match an OpenSSH banner (NULL chain)", |b| {
        b.iter(|| chain_match(&db, "NULL", black_box(ssh)));
    });
    let unknown = b"\x00\x01garbage that matches nothing at all\r\n";
    assert!(chain_match(&db, "GetRequest", unknown).is_none());
    c.bench_function("match an unknown reply (GetRequest chain, no match)", |b| {
        b.iter(|| chain_match(&db, "GetRequest", black_box(unknown)));
    });
}

criterion_group!(service, benches);
criterion_main!(service);
