//! Scripted-peer tests of the state machine. Each test names the nmap
//! behaviour (service_scan.cc, nmap 7.9x) it reproduces; peers are scripted
//! replies, delays, closes and resets in simulated time.

use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::result::{Method, Outcome, ServiceResult};

/// A small database exercising each rule.
pub(crate) const DB: &str = r"Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m/^SSH-([\d.]+)-OpenSSH_([\w.]+)\r?\n/ p/OpenSSH/ v/$2/ i/protocol $1/
softmatch ftp m/^220 /
Probe TCP GenericLines q|\r\n\r\n|
rarity 1
ports 21,23
match ftp m/^220 .*\r\n500 / p/GenericFTP/
Probe TCP GetRequest q|GET / HTTP/1.0\r\n\r\n|
rarity 1
ports 80,443
sslports 443
match http m|^HTTP/1\.[01] \d\d\d .*\r\nServer: nginx/([\d.]+)|s p/nginx/ v/$1/
match ssl/https-alt m|^HTTP/1\.1 400 .*plain HTTP request was sent to HTTPS|s p/nginx/
softmatch http m|^HTTP/1\.[01] \d\d\d|
Probe TCP HTTPOptions q|OPTIONS / HTTP/1.0\r\n\r\n|
rarity 4
ports 80
fallback GetRequest
Probe TCP SSLSessionReq q|\x16\x03\x00|
rarity 1
ports 443
match ssl m/^\x16\x03[\x00-\x03]/
Probe TCP FTPOnly q|USER x\r\n|
rarity 8
match ftp m/^331 / p/RareFTP/ i/from FTPOnly/
Probe TCP Rare q|RARE\r\n|
rarity 9
match rare m/^RARE/
Probe UDP DNSStatusRequest q|\0\0\x10\0|
rarity 1
ports 53
match domain m/^\0\0\x90/ p/dnsd/
Probe UDP Help q|help\r\n|
rarity 3
match echo m/^help\r\n$/
";

fn db() -> ProbeDb {
    ProbeDb::parse(Path::new("machine.probes"), DB).unwrap()
}

/// What the scripted peer does after a connection or a probe.
#[derive(Clone)]
pub(crate) enum Reply {
    Silent,
    /// Chunks of bytes, each after a delay (ms) from the previous step.
    Data(Vec<(u64, Vec<u8>)>),
    Close(u64),
    Reset(u64),
}

pub(crate) fn data(delay: u64, bytes: &[u8]) -> Reply {
    Reply::Data(vec![(delay, bytes.to_vec())])
}

/// A peer: what it does on connect (its banner) and on each probe payload.
pub(crate) struct Peer<'a> {
    pub on_connect: &'a dyn Fn(bool) -> Reply,
    pub on_probe: &'a dyn Fn(&[u8], bool) -> Reply,
}

/// Runs a scan against a peer; returns the trace and the result.
pub(crate) fn run(
    db: &ProbeDb,
    config: ScanConfig,
    port: u16,
    proto: Protocol,
    peer: Peer,
) -> (Vec<String>, ServiceResult) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut scan = ServiceScan::new(db, config, port, proto, now);
    let mut trace = Vec::new();
    let mut timer: Option<Instant> = None;
    let mut pending: Vec<(Instant, Event<'static>, Vec<u8>)> = Vec::new();
    let mut tls = false;
    let mut actions = scan.start(now);
    let ms = |t: Instant| t.duration_since(t0).as_millis();
    let schedule =
        |pending: &mut Vec<(Instant, Event<'static>, Vec<u8>)>, at: Instant, reply: Reply| match reply {
            Reply::Silent => {}
            Reply::Data(chunks) => {
                let mut t = at;
                for (delay, bytes) in chunks {
                    t += Duration::from_millis(delay);
                    pending.push((t, Event::Data(&[]), bytes));
                }
            }
            Reply::Close(d) => pending.push((at + Duration::from_millis(d), Event::Closed, Vec::new())),
            Reply::Reset(d) => pending.push((at + Duration::from_millis(d), Event::Reset, Vec::new())),
        };
    for _ in 0..1000 {
        let mut connected_now = false;
        for action in actions.drain(..) {
            match action {
                Action::Connect => {
                    trace.push(format!("{} connect", ms(now)));
                    tls = false;
                    connected_now = true;
                }
                Action::StartTls => {
                    trace.push(format!("{} tls", ms(now)));
                    tls = true;
                    pending.push((now, Event::TlsEstablished, Vec::new()));
                }
                Action::Send(bytes) => {
                    let name = db.probes().iter().find(|p| p.payload() == bytes).map_or("?", |p| p.name());
                    trace.push(format!("{} send {name}", ms(now)));
                    schedule(&mut pending, now, (peer.on_probe)(&bytes, tls));
                }
                Action::WaitUntil(t) => timer = Some(t),
                Action::Close => {
                    trace.push(format!("{} close", ms(now)));
                    pending.clear();
                }
                Action::Done(result) => return (trace, *result),
            }
        }
        if connected_now {
            pending.push((now, Event::Connected, Vec::new()));
        }
        pending.sort_by_key(|p| p.0);
        let next_peer = pending.first().map(|p| p.0);
        let (at, event, bytes) = match (next_peer, timer) {
            (Some(p), Some(t)) if p > t => (t, Event::Timer, Vec::new()),
            (Some(_), _) => pending.remove(0),
            (None, Some(t)) => (t, Event::Timer, Vec::new()),
            (None, None) => panic!("scan stalled: {trace:?}"),
        };
        if event == Event::Timer {
            timer = None;
        }
        now = at.max(now);
        let banner = matches!(event, Event::Connected) && proto == Protocol::Tcp;
        let tls_banner = matches!(event, Event::TlsEstablished);
        actions = match event {
            Event::Data(_) => scan.handle(now, Event::Data(&bytes)),
            e => scan.handle(now, e),
        };
        // Once the connection is ready (plain, or after TLS) the peer may speak first.
        if (banner && !actions.contains(&Action::StartTls)) || tls_banner {
            schedule(&mut pending, now, (peer.on_connect)(tls));
        }
    }
    panic!("scan did not finish: {trace:?}");
}

/// [`run`] on TCP.
pub(crate) fn tcp(
    db: &ProbeDb,
    config: ScanConfig,
    port: u16,
    on_connect: &dyn Fn(bool) -> Reply,
    on_probe: &dyn Fn(&[u8], bool) -> Reply,
) -> (Vec<String>, ServiceResult) {
    run(db, config, port, Protocol::Tcp, Peer { on_connect, on_probe })
}

fn silent() -> impl Fn(bool) -> Reply {
    |_| Reply::Silent
}

fn no_reply() -> impl Fn(&[u8], bool) -> Reply {
    |_, _| Reply::Silent
}

fn sends(trace: &[String]) -> Vec<&str> {
    trace.iter().filter_map(|l| l.split_once(" send ").map(|(_, n)| n)).collect()
}

fn connects(trace: &[String]) -> usize {
    trace.iter().filter(|l| l.ends_with(" connect")).count()
}

const CFG: ScanConfig = ScanConfig { intensity: DEFAULT_INTENSITY, tls: true };

#[path = "machine_tests_rules.rs"]
mod rules;

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    fn event() -> impl Strategy<Value = (u64, u8, Vec<u8>)> {
        (0u64..7000, 0u8..11, prop::collection::vec(any::<u8>(), 0..8))
    }

    proptest! {
        /// Any sequence of events, at any times, never panics, and the
        /// machine says Done exactly once and then stays silent.
        #[test]
        fn any_event_sequence_is_handled(
            events in prop::collection::vec(event(), 0..60),
            port in prop::sample::select(vec![21u16, 53, 80, 443, 9999]),
            udp in any::<bool>(),
            intensity in 0u8..=9,
        ) {
            let d = db();
            let proto = if udp { Protocol::Udp } else { Protocol::Tcp };
            let mut now = Instant::now();
            let mut scan = ServiceScan::new(&d, ScanConfig { intensity, tls: true }, port, proto, now);
            let mut done = scan.start(now).iter().filter(|a| matches!(a, Action::Done(_))).count();
            for (delta, kind, bytes) in &events {
                now += Duration::from_millis(*delta);
                let event = match kind {
                    0 => Event::Connected,
                    1 => Event::TlsEstablished,
                    2 => Event::ConnectFailed,
                    3 => Event::Data(bytes),
                    4 => Event::Closed,
                    5 => Event::Reset,
                    6 => Event::ProbeError,
                    7 => Event::Unreachable,
                    8 => Event::WriteFailed,
                    9 => Event::Abort,
                    _ => Event::Timer,
                };
                let was_finished = scan.is_finished();
                let out = scan.handle(now, event);
                prop_assert!(!was_finished || out.is_empty());
                done += out.iter().filter(|a| matches!(a, Action::Done(_))).count();
            }
            prop_assert!(done <= 1);
            prop_assert_eq!(done == 1, scan.is_finished());
        }
    }
}
