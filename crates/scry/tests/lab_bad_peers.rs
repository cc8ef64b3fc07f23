//! Bad peers never hurt the scan (issue 13, item 7), through the whole CLI
//! with Debian's nmap-service-probes: on one host, beside a service that
//! greets as OpenSSH does, peers that flood megabytes, trickle a byte at a
//! time forever, reset mid-read, accept and stay silent, send binary
//! garbage, or break a TLS handshake. Each ends with its own outcome, the
//! good service keeps its answer, and scry's peak memory stays that of a
//! scan of the good service alone (within 4 MiB; the flood offers 64 MiB
//! per connection, but scry reads a probe's first 4096 bytes only, and the
//! kernel's socket buffers take about 0.7 MiB before the flood blocks). `--version-intensity 0` keeps it to the NULL probe and
//! the probes that list the port, as nmap's.
//!
//! The per-peer behaviour with a scripted database is in
//! `crates/scry/src/version/driver_tests.rs`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::Scan;
use scry_lab::{Lab, Node, TargetSpec};

const GOOD: u16 = 7000;
const FLOOD: u16 = 7001;
const TRICKLE: u16 = 7002;
const RESET: u16 = 7003;
const SILENT: u16 = 7004;
const GARBAGE: u16 = 7005;
const BROKEN_TLS: u16 = 7006;
/// What the flood offers each connection.
const FLOOD_BYTES: u64 = 64 << 20;

/// Serves `peer` on every connection to `port` of `node`, each in a thread.
fn serve(node: &Node, port: u16, peer: impl Fn(TcpStream) + Send + Sync + Copy + 'static) {
    let ip = node.ipv4();
    let listener = node.run(move || TcpListener::bind((ip, port))).unwrap().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || peer(conn));
        }
    });
}

/// Reads until the client goes away.
fn drain(mut conn: TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
}

/// Sets SO_LINGER to zero, so that dropping `c` sends a reset.
fn linger_zero(c: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a linger struct of the size given.
    let rc = unsafe {
        libc::setsockopt(
            c.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// How much higher than a scan of the good service alone the peak may be:
/// far below the flood's 64 MiB, well above run-to-run noise (about 0.5 MiB).
const MEMORY_MARGIN_KIB: u64 = 4 << 10;

/// Bytes the flood's connections got the kernel to take.
static FLOODED: AtomicU64 = AtomicU64::new(0);

fn scan(node: &Node, ports: &str, ip: &str) -> Scan {
    let args = ["-sV", "--version-intensity", "0", "-Pn", "-n", "-p", ports, ip];
    let out = common::command(node, &args).output().unwrap();
    let scan = Scan::from_output(out.status, &out.stdout, &out.stderr);
    assert!(scan.status.success(), "{}", scan.stderr);
    scan
}

#[test]
fn bad_peers_cost_their_timeouts_and_bounded_memory_only() {
    let Some(lab) = scry_lab::require_lab(Lab::builder().target(TargetSpec::new()).build()) else { return };
    let target = &lab.targets()[0];
    serve(target, GOOD, |mut c| {
        let _ = c.write_all(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n");
        drain(c);
    });
    serve(target, FLOOD, |mut c| {
        let chunk = [b'A'; 64 << 10];
        for _ in 0..FLOOD_BYTES / chunk.len() as u64 {
            if c.write_all(&chunk).is_err() {
                return;
            }
            FLOODED.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    serve(target, TRICKLE, |mut c| {
        // A byte no pattern of the NULL probe's chain takes at any length.
        while c.write_all(b"\x01").is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    serve(target, RESET, |mut c| {
        let _ = c.write_all(b"\x00\x01garbage");
        std::thread::sleep(Duration::from_millis(100));
        linger_zero(&c);
    });
    serve(target, SILENT, drain);
    serve(target, GARBAGE, |mut c| {
        let _ = c.write_all(&(0..=255u8).rev().collect::<Vec<u8>>());
        drain(c);
    });
    serve(target, BROKEN_TLS, |mut c| {
        // A TLS alert record, then junk where the handshake goes on.
        let _ = c.write_all(b"\x15\x03\x01\x00\x02\x02\x28");
        let mut buf = [0u8; 512];
        let _ = c.read(&mut buf);
        let _ = c.write_all(b"\x16\x03\x01\xff\xffjunkjunkjunk");
    });
    let ip = target.ipv4().to_string();

    let alone = scan(lab.scanner(), &GOOD.to_string(), &ip);
    let bad = [FLOOD, TRICKLE, RESET, SILENT, GARBAGE, BROKEN_TLS];
    let all: Vec<String> = std::iter::once(GOOD).chain(bad).map(|p| p.to_string()).collect();
    let crowd = scan(lab.scanner(), &all.join(","), &ip);

    let service = |scan: &Scan, port: u16| {
        scan.records_of("service")
            .find(|r| r["port"] == port)
            .unwrap_or_else(|| panic!("no service {port}: {}", scan.stdout))
            .clone()
    };
    let answer = |scan: &Scan, port: u16| {
        let r = service(scan, port);
        let text = |k: &str| r[k].as_str().map(str::to_owned);
        (text("outcome"), text("name"), text("product"), text("version"))
    };
    let ssh = (
        Some("match".to_owned()),
        Some("ssh".to_owned()),
        Some("OpenSSH".to_owned()),
        Some("9.2p1 Debian 2+deb12u3".to_owned()),
    );
    assert_eq!(answer(&alone, GOOD), ssh);
    assert_eq!(answer(&crowd, GOOD), ssh, "the bad peers changed the good service's answer");
    // Each bad peer ends, with what nmap would say of it.
    let outcome = |port: u16| service(&crowd, port)["outcome"].as_str().unwrap().to_owned();
    assert_eq!(outcome(FLOOD), "nomatch");
    assert_eq!(outcome(TRICKLE), "nomatch");
    assert_eq!(outcome(RESET), "nomatch");
    assert_eq!(outcome(SILENT), "nomatch");
    assert_eq!(outcome(GARBAGE), "nomatch");
    assert_eq!(outcome(BROKEN_TLS), "nomatch");
    // Fingerprints keep at most 900 bytes a response, however much came.
    let fp = service(&crowd, FLOOD)["servicefp"].as_str().unwrap().len();
    assert!(fp < 8 << 10, "a fingerprint of {fp} bytes");
    let flooded = FLOODED.load(Ordering::Relaxed);
    let (peak_alone, peak_crowd) = (alone.stat("max_rss_kib"), crowd.stat("max_rss_kib"));
    eprintln!("flooded {flooded} bytes; peak {peak_alone} KiB alone, {peak_crowd} KiB with the bad peers");
    // scry stopped reading the flood (the kernel's buffers took the rest of
    // what got out), and its peak stayed that of the good service alone.
    assert!(flooded < FLOOD_BYTES, "the flood was drained: scry read all {flooded} bytes");
    assert!(
        peak_crowd < peak_alone + MEMORY_MARGIN_KIB,
        "peak {peak_crowd} KiB with the bad peers, {peak_alone} KiB without"
    );
}
