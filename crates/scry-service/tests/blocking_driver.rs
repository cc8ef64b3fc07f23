//! The state machine driven over real sockets on 127.0.0.1 by a minimal
//! blocking driver (TCP, no TLS): proof that the runtime only shuttles
//! bytes, and a sketch of how socket errors map to events. Peers are
//! threads with std listeners; the database is inline with short waits.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use scry_service::{Action, Event, Outcome, ProbeDb, Protocol, ScanConfig, ServiceResult, ServiceScan};

const DB: &str = r"Probe TCP NULL q||
totalwaitms 300
tcpwrappedms 200
match ssh m/^SSH-([\d.]+)-OpenSSH_([\w.]+)\r?\n/ p/OpenSSH/ v/$2/ i/protocol $1/
Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
totalwaitms 300
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: ([^\r\n]+)|s p/$1/
";

/// Runs one scan of `addr` to completion with blocking sockets.
fn drive(db: &ProbeDb, addr: SocketAddr) -> ServiceResult {
    let mut now = Instant::now();
    let mut scan = ServiceScan::new(db, ScanConfig::default(), addr.port(), Protocol::Tcp, now);
    let mut actions = scan.start(now);
    let mut conn: Option<TcpStream> = None;
    let mut deadline = now;
    let mut buf = [0u8; 4096];
    loop {
        let mut events: Vec<Event<'static>> = Vec::new();
        for action in actions.drain(..) {
            match action {
                Action::Connect => match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                    Ok(s) => {
                        conn = Some(s);
                        events.push(Event::Connected);
                    }
                    Err(_) => events.push(Event::ConnectFailed),
                },
                Action::StartTls => unreachable!("no ssl in this database"),
                Action::Send(bytes) => {
                    if conn.as_mut().map(|s| s.write_all(&bytes)).is_some_and(|r| r.is_err()) {
                        events.push(Event::WriteFailed);
                    }
                }
                Action::WaitUntil(t) => deadline = t,
                Action::Close => {
                    if let Some(s) = conn.take() {
                        let _ = s.shutdown(Shutdown::Both);
                    }
                }
                Action::Done(result) => return *result,
            }
        }
        now = Instant::now();
        if let Some(event) = events.pop() {
            actions = scan.handle(now, event);
            continue;
        }
        // Read until the deadline; map the outcome to one event.
        let Some(stream) = conn.as_mut() else {
            actions = scan.handle(now.max(deadline), Event::Timer);
            continue;
        };
        let wait = deadline.saturating_duration_since(now).max(Duration::from_millis(1));
        stream.set_read_timeout(Some(wait)).unwrap();
        let read = stream.read(&mut buf);
        now = Instant::now();
        actions = match read {
            Ok(0) => scan.handle(now, Event::Closed),
            Ok(n) => scan.handle(now, Event::Data(&buf[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                scan.handle(now, Event::Timer)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::ConnectionRefused
                ) =>
            {
                scan.handle(now, Event::Reset)
            }
            Err(e) if e.kind() == ErrorKind::BrokenPipe => scan.handle(now, Event::ProbeError),
            Err(_) => scan.handle(now, Event::Unreachable),
        };
    }
}

/// A local peer: `serve` runs for each accepted connection.
fn peer(serve: fn(TcpStream)) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || serve(stream));
        }
    });
    addr
}

fn db() -> ProbeDb {
    ProbeDb::parse(Path::new("driver.probes"), DB).unwrap()
}

#[test]
fn banner_over_a_real_socket() {
    let addr = peer(|mut s| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n");
        thread::sleep(Duration::from_secs(2));
    });
    let r = drive(&db(), addr);
    assert_eq!((r.outcome, r.name.as_deref()), (Outcome::HardMatched, Some("ssh")));
    assert_eq!(r.info.version.as_deref(), Some("9.2p1"));
    assert!(r.port_open);
}

#[test]
fn request_reply_after_the_null_probe_times_out() {
    let addr = peer(|mut s| {
        let mut req = [0u8; 64];
        if s.read(&mut req).is_ok_and(|n| req[..n].starts_with(b"GET ")) {
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nServer: tiny/1.0\r\n\r\n");
        }
        thread::sleep(Duration::from_secs(2));
    });
    let r = drive(&db(), addr);
    assert_eq!((r.name.as_deref(), r.info.product.as_deref()), (Some("http"), Some("tiny/1.0")));
}

#[test]
fn immediate_close_is_tcpwrapped() {
    let addr = peer(drop);
    let r = drive(&db(), addr);
    assert_eq!((r.outcome, r.name.as_deref(), r.confidence), (Outcome::TcpWrapped, Some("tcpwrapped"), 8));
}

#[test]
fn silent_service_is_not_matched() {
    let addr = peer(|s| {
        thread::sleep(Duration::from_secs(3));
        drop(s);
    });
    let r = drive(&db(), addr);
    assert_eq!((r.outcome, r.name), (Outcome::NoMatch, None));
    assert!(r.fingerprint.is_empty());
}
