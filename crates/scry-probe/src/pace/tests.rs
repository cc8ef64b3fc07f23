use super::*;

/// Linux's per-peer ICMP limiter (net/ipv4/icmp.c, inet_peer_xrlim_allow):
/// tokens in milliseconds, a burst of six messages, one more per `cost`
/// (1000 ms for IPv4; for IPv6 net.ipv6.icmp.ratelimit, maybe shifted by the route).
struct LinuxLimiter {
    cost: Duration,
    tokens: Duration,
    last: Instant,
}

impl LinuxLimiter {
    fn new(now: Instant) -> LinuxLimiter {
        LinuxLimiter::every(Duration::from_millis(1000), now)
    }

    fn every(cost: Duration, now: Instant) -> LinuxLimiter {
        LinuxLimiter { cost, tokens: cost * BURST as u32, last: now }
    }

    fn allow(&mut self, now: Instant) -> bool {
        self.tokens = (self.tokens + (now - self.last)).min(self.cost * BURST as u32);
        self.last = now;
        let ok = self.tokens >= self.cost;
        if ok {
            self.tokens -= self.cost;
        }
        ok
    }
}

/// Runs a paced pass over `ports` of HOST against `limiter`, feeding the
/// queue the arrivals as the engine does; returns the ports answered, the
/// interval learned (if measured) and when the pass ended.
fn paced_run(
    limiter: &mut LinuxLimiter,
    limit: Limit,
    ports: impl IntoIterator<Item = u16>,
    start: Instant,
) -> (std::collections::BTreeSet<u16>, Option<Duration>, Instant) {
    let rtt = Duration::from_micros(200);
    let mut queue = PacedQueue::default();
    queue.add(HOST, limit, ports, start);
    let mut answered = std::collections::BTreeSet::new();
    let mut arrivals = Vec::new();
    let mut learned = None;
    let mut now = start;
    loop {
        for (host, since) in queue.measuring() {
            let seen: Vec<Instant> = arrivals.iter().copied().filter(|t| *t >= since && *t <= now).collect();
            learned = learned.or(queue.learn(host, &seen, now));
        }
        match queue.next(now, |_, port| answered.contains(&port)) {
            Next::Send(host, port) => {
                assert_eq!(host, HOST);
                if limiter.allow(now) {
                    answered.insert(port);
                    arrivals.push(now + rtt);
                }
            }
            Next::WaitUntil(at) => now = at,
            Next::Done => break,
        }
    }
    assert_eq!(learned.is_some(), learned == queue.interval(HOST));
    (answered, queue.interval(HOST), now)
}

const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 10));
const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 11));

/// Sends `ports` to a rate-limited host every `gap` from `start`; returns
/// the answered ports and the arrival times of their errors.
fn first_pass(
    limiter: &mut LinuxLimiter,
    ports: &[u16],
    start: Instant,
    gap: Duration,
) -> (Vec<u16>, Vec<Instant>) {
    let mut answered = Vec::new();
    let mut arrivals = Vec::new();
    for (i, &port) in ports.iter().enumerate() {
        let at = start + gap * i as u32;
        if limiter.allow(at) {
            answered.push(port);
            arrivals.push(at + Duration::from_micros(200));
        }
    }
    (answered, arrivals)
}

#[test]
fn a_fast_pass_against_linux_sees_only_the_burst_and_the_paced_pass_measures_the_interval() {
    // IPv4 Linux's one a second, and a much faster IPv6 limiter.
    for (cost, learned_in) in [(1000, 1040..=1120), (25, 25..=30)] {
        let cost = Duration::from_millis(cost);
        let start = Instant::now();
        let mut limiter = LinuxLimiter::every(cost, start);
        let ports: Vec<u16> = (1..=1000).collect();
        // 100 000 probes a second: the whole pass takes 10 ms.
        let gap = Duration::from_micros(10);
        let (answered, arrivals) = first_pass(&mut limiter, &ports, start, gap);
        assert_eq!(answered.len(), BURST);
        let limit = detect_limit(&arrivals, ports.len(), gap * 1000).expect("limited");
        assert_eq!(limit, Limit::Unmeasured);

        // The paced pass answers every remaining closed port, at the limiter's pace.
        let rest = ports.iter().copied().filter(|p| !answered.contains(p));
        let (found, learned, end) = paced_run(&mut limiter, limit, rest, start + Duration::from_secs(1));
        assert_eq!(found.len() + answered.len(), 1000, "every closed port classified ({cost:?})");
        let learned = learned.expect("measured").as_millis();
        assert!(learned_in.contains(&learned), "{cost:?}: learned {learned} ms");
        // No slower than the limiter allows, less the headroom and the measuring.
        let took = (end - start).as_secs_f64();
        let least = cost.as_secs_f64() * (1000 - BURST) as f64;
        assert!(
            took < least * 1.1 + 1.0 + (BURST + MEASURED) as f64 * cost.as_secs_f64(),
            "{cost:?}: {took} s"
        );
    }
}

#[test]
fn too_few_ports_to_measure_are_paced_to_what_came_back() {
    let start = Instant::now();
    let cost = Duration::from_millis(25);
    let mut limiter = LinuxLimiter::every(cost, start);
    // The burst is spent: 20 ports measured at 5 ms see about 4 errors.
    for _ in 0..BURST {
        assert!(limiter.allow(start));
    }
    let (found, learned, end) = paced_run(&mut limiter, Limit::Unmeasured, 1..=20, start);
    assert_eq!(found, (1..=20).collect());
    // Too few to settle on, enough to suggest 25 ms (and the headroom).
    assert_eq!(learned, Some(Duration::from_micros(26_250)));
    assert!(end - start < Duration::from_secs(1), "{:?}", end - start);
    // A host that never answers past the burst gets IPv4 Linux's interval.
    let mut silent = LinuxLimiter::every(Duration::from_secs(60), start);
    for _ in 0..BURST {
        assert!(silent.allow(start));
    }
    let (found, _, end) = paced_run(&mut silent, Limit::Unmeasured, 1..=3, start);
    assert!(found.is_empty());
    assert_eq!(end - start, MEASURE_GAP * 3 + FALLBACK * 3);
}

#[test]
fn a_slower_pass_measures_the_steady_rate() {
    let start = Instant::now();
    let mut limiter = LinuxLimiter::new(start);
    let ports: Vec<u16> = (1..=1000).collect();
    // 20 probes a second to this host: 50 s, so the limiter refills ~50 times.
    let gap = Duration::from_millis(50);
    let (answered, arrivals) = first_pass(&mut limiter, &ports, start, gap);
    assert!((55..=57).contains(&answered.len()), "{}", answered.len());
    let Limit::Every(interval) = detect_limit(&arrivals, ports.len(), gap * 1000).expect("limited") else {
        panic!("a pass of 50 s measures the interval")
    };
    assert!((Duration::from_millis(1040)..=Duration::from_millis(1060)).contains(&interval), "{interval:?}");
}

#[test]
fn plain_loss_silence_and_full_answers_are_not_limiting() {
    let start = Instant::now();
    let gap = Duration::from_millis(1);
    // 10% loss, answers as fast as probes went out.
    let arrivals: Vec<Instant> = (0..1000u32).filter(|i| i % 10 != 3).map(|i| start + gap * i).collect();
    assert_eq!(detect_limit(&arrivals, 1000, gap * 1000), None);
    assert_eq!(detect_limit(&[], 1000, gap * 1000), None);
    let all: Vec<Instant> = (0..10u32).map(|i| start + gap * i).collect();
    assert_eq!(detect_limit(&all, 10, gap * 10), None);
    // A handful of ports, most answered: nothing to measure, nothing to slow.
    assert_eq!(detect_limit(&all[..5], 8, gap * 8), None);
}

#[test]
fn hosts_are_paced_independently() {
    let start = Instant::now();
    let mut queue = PacedQueue::default();
    queue.add(HOST, Limit::Every(Duration::from_secs(1)), [1, 2, 3, 4], start);
    queue.add(OTHER, Limit::Every(Duration::from_millis(10)), [7, 8], start);
    let mut now = start;
    let mut log = Vec::new();
    loop {
        // Port 2 was answered meanwhile: it is dropped without taking a turn.
        match queue.next(now, |host, port| host == HOST && port == 2) {
            Next::Send(host, port) => log.push(((now - start).as_millis(), host == HOST, port)),
            Next::WaitUntil(at) => now = at,
            Next::Done => break,
        }
    }
    // HOST's probes a second apart; OTHER's do not wait for them.
    assert_eq!(log, vec![(0, true, 1), (0, false, 7), (10, false, 8), (1000, true, 3), (2000, true, 4)]);
    assert!(queue.is_empty());
}
