//! The connect scan's unit tests: nmap's reading of connect(), the
//! timeout estimator, and the driver on loopback.

use super::*;
use std::collections::BTreeMap;

fn err(errno: i32) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(errno))
}

fn answer(state: PortState, reason: Reason) -> Outcome {
    Outcome::Answer(PortResult { state, reason, ttl: 0 })
}

/// nmap's table, errno by errno.
#[test]
fn connect_results_read_as_nmap_reads_them() {
    assert_eq!(outcome(&Ok(())), answer(PortState::Open, Reason::SynAck));
    assert_eq!(outcome(&err(libc::ECONNREFUSED)), answer(PortState::Closed, Reason::ConnRefused));
    assert_eq!(outcome(&err(libc::EHOSTUNREACH)), answer(PortState::Filtered, Reason::Unreachable(1)));
    assert_eq!(outcome(&err(libc::ENETUNREACH)), answer(PortState::Filtered, Reason::Unreachable(0)));
    assert_eq!(outcome(&err(libc::EACCES)), answer(PortState::Filtered, Reason::Unreachable(13)));
    assert_eq!(outcome(&err(libc::ENOPROTOOPT)), answer(PortState::Filtered, Reason::Unreachable(2)));
    assert_eq!(outcome(&err(libc::ENONET)), answer(PortState::Filtered, Reason::DestUnreach));
    assert_eq!(outcome(&err(libc::ETIMEDOUT)), Outcome::Silent);
    assert_eq!(outcome(&err(libc::EHOSTDOWN)), Outcome::Silent);
    assert_eq!(outcome(&err(libc::EPERM)), Outcome::Strange(libc::EPERM));
    let reasons = [Reason::Unreachable(1), Reason::Unreachable(0), Reason::Unreachable(13)];
    assert_eq!(reasons.map(Reason::as_str), ["host-unreach", "net-unreach", "admin-prohibited"]);
}

/// Collects what the driver finds.
#[derive(Default)]
struct Found(BTreeMap<(IpAddr, u16), PortResult>);

impl Answers for Found {
    fn record(&mut self, ip: IpAddr, port: u16, result: PortResult) -> bool {
        self.0.insert((ip, port), result).is_none()
    }

    fn wanted(&self, ip: IpAddr, port: u16) -> bool {
        !self.0.contains_key(&(ip, port))
    }
}

/// A listener on loopback is open, a port just closed is closed; one
/// connection each, as the counters say.
#[test]
fn the_driver_connects_to_every_pair_of_the_walk_on_loopback() {
    drive_loopback("127.0.0.1");
}

/// The same over IPv6 (-sT -6 goes through the kernel's IPv6 sockets).
#[test]
fn the_driver_connects_over_ipv6_loopback() {
    drive_loopback("::1");
}

fn drive_loopback(address: &str) {
    let lo: IpAddr = address.parse().unwrap();
    let listener = std::net::TcpListener::bind((lo, 0)).unwrap();
    let open = listener.local_addr().unwrap().port();
    let closed = std::net::TcpListener::bind((lo, 0)).unwrap().local_addr().unwrap().port();
    let mut targets = scry_probe::targets::TargetSetBuilder::new();
    targets.add(address).unwrap();
    let targets = targets.build();
    let ports = [open, closed];
    let permutation = Permutation::new(2, 7);
    let everyone = NextHops::All(scry_packet::Mac::ZERO);
    let walk = Walk {
        targets: &targets,
        ports: &ports,
        permutation: &permutation,
        positions: 0..2,
        next_hops: &everyone,
        rate: 1000.0,
        retries: 2,
    };
    let limits = Limits { parallelism: 4, per_host: 2, ttl: 64, device: None };
    let (counters, mut found) = (Counters::default(), Found::default());
    let driven = drive(&walk, limits, &AtomicBool::new(false), &counters, &mut found).unwrap();
    let expected: BTreeMap<(IpAddr, u16), PortResult> = [
        ((lo, open), PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 0 }),
        ((lo, closed), PortResult { state: PortState::Closed, reason: Reason::ConnRefused, ttl: 0 }),
    ]
    .into();
    assert_eq!(found.0, expected);
    assert_eq!(driven.probed_end, 2);
    assert!(driven.strange.is_empty());
    // Both answered in the first pass: no retry.
    assert_eq!(counters.sent.load(Ordering::Relaxed), 2);
    drop(listener);
}

#[test]
fn the_timeout_follows_the_round_trips_within_bounds() {
    let mut t = Timeout::default();
    assert_eq!(t.current(), INITIAL_TIMEOUT);
    t.sample(Duration::from_micros(200));
    assert_eq!(t.current(), MIN_TIMEOUT);
    let mut slow = Timeout::default();
    slow.sample(Duration::from_millis(200));
    // 200 ms + 4 x 100 ms.
    assert_eq!(slow.current(), Duration::from_millis(600));
    slow.sample(Duration::from_millis(200));
    // rttvar 3/4 x 100 ms, srtt unchanged: 200 + 4 x 75.
    assert_eq!(slow.current(), Duration::from_millis(500));
    let mut very = Timeout::default();
    very.sample(Duration::from_secs(20));
    assert_eq!(very.current(), MAX_TIMEOUT);
}
