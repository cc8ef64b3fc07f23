//! The driver against scripted peers on 127.0.0.1: bad peers cost at most
//! their probes' timeouts and bounded memory, and every service ends.

use super::*;
use scry_service::Outcome;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

/// Two probes of one second each; `ssl` on a TLS record header.
const PROBES: &str = "\
Probe TCP NULL q||
totalwaitms 1000
tcpwrappedms 300
match ssl m|^\\x16\\x03[\\x00-\\x03]|s
match echo m|^HELLO|
Probe TCP GetRequest q|GET / HTTP/1.0\\r\\n\\r\\n|
rarity 1
totalwaitms 1000
match http m|^HTTP/1\\.[01] \\d\\d\\d|
";

fn db() -> &'static ProbeDb {
    let db = ProbeDb::parse(std::path::Path::new("test-probes"), PROBES).expect("test probes parse");
    Box::leak(Box::new(db))
}

/// A listener on 127.0.0.1 running `peer` on every connection, in threads of its own.
fn serve(peer: fn(std::net::TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || peer(conn));
        }
    });
    addr
}

/// Probes `addr`; aborts after `abort_after` when given. The outer timeout
/// only keeps a broken driver from hanging the test suite.
fn probe_with(addr: SocketAddr, abort_after: Option<Duration>) -> Probed {
    probe_limited(addr, abort_after, Limits::default())
}

/// [`probe_with`] under `limits`.
fn probe_limited(addr: SocketAddr, abort_after: Option<Duration>, limits: Limits) -> Probed {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let connector = tls::connector().unwrap();
    rt.block_on(async {
        let (tx, rx) = watch::channel(false);
        if let Some(after) = abort_after {
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                tx.send_replace(true);
            });
        } else {
            std::mem::forget(tx);
        }
        let run = probe(db(), ScanConfig::default(), addr, Protocol::Tcp, &connector, rx, limits);
        tokio::time::timeout(Duration::from_secs(60), run).await.expect("the service ends")
    })
}

/// Reads until the client goes away.
fn drain(mut conn: std::net::TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(conn.read(&mut buf), Ok(n) if n > 0) {}
}

#[test]
fn a_matching_banner_is_kept() {
    let addr = serve(|mut c| {
        let _ = c.write_all(b"HELLO world\r\n");
        drain(c);
    });
    let p = probe_with(addr, None);
    assert_eq!((p.result.outcome, p.result.name.as_deref()), (Outcome::HardMatched, Some("echo")));
    assert_eq!(p.banner.bytes, b"HELLO world\r\n");
}

#[test]
fn megabytes_of_data_end_with_a_bounded_fingerprint() {
    let addr = serve(|mut c| {
        let chunk = [b'A'; 65536];
        for _ in 0..128 {
            if c.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let p = probe_with(addr, None);
    assert_eq!(p.result.outcome, Outcome::NoMatch);
    assert!(!p.result.fingerprint.is_empty());
    assert!(p.result.fingerprint.iter().all(|r| r.bytes.len() <= scry_service::FINGERPRINT_BYTES));
    assert_eq!(p.banner.bytes.len(), BANNER_BYTES);
}

#[test]
fn a_peer_that_sends_slowly_forever_costs_its_probe_timeouts() {
    let addr = serve(|mut c| {
        while c.write_all(b"x").is_ok() {
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let p = probe_with(addr, None);
    assert_eq!(p.result.outcome, Outcome::NoMatch);
    assert_eq!(p.result.fingerprint[0].probe, "NULL");
}

#[test]
fn a_reset_mid_read_moves_on() {
    let addr = serve(|mut c| {
        let _ = c.write_all(b"\x00\x01garbage");
        std::thread::sleep(Duration::from_millis(100));
        // SO_LINGER 0: close with a reset.
        let _ = linger_zero(&c);
        drop(c);
    });
    let p = probe_with(addr, None);
    assert_eq!(p.result.outcome, Outcome::NoMatch);
    assert!(p.result.port_open);
}

#[test]
fn a_silent_peer_is_no_match_without_fingerprint() {
    let addr = serve(drain);
    let p = probe_with(addr, None);
    assert_eq!(p.result.outcome, Outcome::NoMatch);
    assert!(p.result.fingerprint.is_empty() && p.banner.bytes.is_empty());
}

#[test]
fn binary_garbage_is_kept_for_the_fingerprint() {
    let addr = serve(|mut c| {
        let garbage: Vec<u8> = (0..=255u8).rev().collect();
        let _ = c.write_all(&garbage);
        drain(c);
    });
    let p = probe_with(addr, None);
    assert_eq!(p.result.outcome, Outcome::NoMatch);
    assert_eq!(p.result.fingerprint[0].len, 256);
}

#[test]
fn a_broken_tls_handshake_ends_the_service() {
    // Looks like TLS to the NULL probe (ssl), then answers the handshake with junk.
    let addr = serve(|mut c| {
        let _ = c.write_all(b"\x16\x03\x01\x00\x02\x02\x28");
        let mut buf = [0u8; 512];
        let _ = c.read(&mut buf);
        let _ = c.write_all(b"\x16\x03\x01\xff\xffjunkjunkjunk");
    });
    let p = probe_with(addr, None);
    assert_eq!(p.result.tunnel, scry_service::Tunnel::Ssl);
    assert_eq!(p.result.outcome, Outcome::Incomplete);
}

#[test]
fn an_abort_ends_the_service_at_once() {
    let addr = serve(drain);
    let p = probe_with(addr, Some(Duration::from_millis(100)));
    assert_eq!(p.result.outcome, Outcome::Incomplete);
}

/// --host-timeout: a silent service (two probes of a second each, which
/// would end in no match, see `a_silent_peer_is_no_match_without_fingerprint`)
/// ends incomplete when its host's deadline passes during the first.
#[test]
fn a_host_timeout_ends_the_service_incomplete() {
    let addr = serve(drain);
    let deadline = Some(std::time::Instant::now() + Duration::from_millis(300));
    let p = probe_limited(addr, None, Limits { deadline, trace: false });
    assert_eq!(p.result.outcome, Outcome::Incomplete);
}

/// Sets SO_LINGER to zero, so that closing sends a reset.
fn linger_zero(c: &std::net::TcpStream) -> std::io::Result<()> {
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
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[test]
fn read_errors_split_as_nmap_does() {
    let os = io::Error::from_raw_os_error;
    assert_eq!(read_event(&os(libc::ECONNRESET)), Event::Reset);
    assert_eq!(read_event(&os(libc::ECONNREFUSED)), Event::Reset);
    assert_eq!(read_event(&os(libc::EPIPE)), Event::ProbeError);
    assert_eq!(read_event(&os(libc::EIO)), Event::ProbeError);
    assert_eq!(read_event(&os(libc::EHOSTUNREACH)), Event::Unreachable);
    assert_eq!(read_event(&io::Error::other("tls alert")), Event::ProbeError);
    assert_eq!(write_event(&os(libc::EPIPE)), Event::ProbeError);
    assert_eq!(write_event(&os(libc::ENETDOWN)), Event::WriteFailed);
}
