use super::*;

/// Linux's per-peer ICMP limiter (net/ipv4/icmp.c, inet_peer_xrlim_allow):
/// tokens in milliseconds, a burst of six messages, one more per 1000 ms.
struct LinuxLimiter {
    tokens: Duration,
    last: Instant,
}

impl LinuxLimiter {
    const COST: Duration = Duration::from_millis(1000);

    fn new(now: Instant) -> LinuxLimiter {
        LinuxLimiter { tokens: Self::COST * BURST as u32, last: now }
    }

    fn allow(&mut self, now: Instant) -> bool {
        self.tokens = (self.tokens + (now - self.last)).min(Self::COST * BURST as u32);
        self.last = now;
        let ok = self.tokens >= Self::COST;
        if ok {
            self.tokens -= Self::COST;
        }
        ok
    }
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
fn a_fast_pass_against_linux_sees_only_the_burst_and_paces_to_one_a_second() {
    let start = Instant::now();
    let mut limiter = LinuxLimiter::new(start);
    let ports: Vec<u16> = (1..=1000).collect();
    // 10 000 probes a second: the whole pass takes 0.1 s.
    let gap = Duration::from_micros(100);
    let (answered, arrivals) = first_pass(&mut limiter, &ports, start, gap);
    assert_eq!(answered.len(), BURST);
    let interval = detect_limit(&arrivals, ports.len(), gap * 1000).expect("limited");
    assert_eq!(interval, Duration::from_millis(1050));

    // The paced retry pass answers every remaining closed port.
    let mut queue = PacedQueue::default();
    let mut now = start + Duration::from_secs(1);
    queue.add(HOST, interval, ports.iter().copied().filter(|p| !answered.contains(p)), now);
    assert_eq!(queue.len(), 1000 - BURST);
    let mut answered_now = answered.len();
    loop {
        match queue.next(now) {
            Next::Send(host, _) => {
                assert_eq!(host, HOST);
                answered_now += usize::from(limiter.allow(now));
            }
            Next::WaitUntil(at) => now = at,
            Next::Done => break,
        }
    }
    assert_eq!(answered_now, 1000, "every closed port classified");
    let took = now - start;
    assert!(took < Duration::from_secs(1050), "{took:?}");
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
    let interval = detect_limit(&arrivals, ports.len(), gap * 1000).expect("limited");
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
    queue.add(HOST, Duration::from_secs(1), [1, 2, 3], start);
    queue.add(OTHER, Duration::from_millis(10), [7, 8], start);
    let mut now = start;
    let mut log = Vec::new();
    loop {
        match queue.next(now) {
            Next::Send(host, port) => log.push(((now - start).as_millis(), host == HOST, port)),
            Next::WaitUntil(at) => now = at,
            Next::Done => break,
        }
    }
    // HOST's probes a second apart; OTHER's do not wait for them.
    assert_eq!(log, vec![(0, true, 1), (0, false, 7), (10, false, 8), (1000, true, 2), (2000, true, 3)]);
    assert!(queue.is_empty());
}
