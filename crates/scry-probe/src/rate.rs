//! Send-rate control: a token bucket that hands out whole batches.
//!
//! I/O-free: callers pass `now`, so tests drive it in simulated time. Tokens
//! accrue continuously at the configured rate and are capped at 10 ms of
//! sending: a sender that was descheduled for a moment (a busy machine)
//! catches up, so the rate holds over any longer span, while one that
//! stalled for longer never bursts past the rate by more than those 10 ms.
//! (A cap of one batch lost every token past it: at 500 kpps on a loaded
//! two-core machine, scry sent half the rate asked for.)

use std::time::{Duration, Instant};

/// The lowest rate a bucket keeps: one probe an hour, below nmap's slowest
/// timing template (`-T0`, one probe per 5 minutes).
pub const MIN_RATE: f64 = 1.0 / 3600.0;

/// A token bucket issuing probes at `rate` per second, a batch at a time.
#[derive(Clone, Debug)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket starting empty at `now`. `rate` is clamped to at least
    /// [`MIN_RATE`]; the burst is 10 ms of sending, at least one token.
    pub fn new(rate: f64, now: Instant) -> TokenBucket {
        let rate = rate.max(MIN_RATE);
        let burst = (rate / 100.0).max(1.0);
        TokenBucket { rate, burst, tokens: 0.0, last: now }
    }

    /// The configured rate in probes per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Changes the rate from `now` on (an adaptive rate): tokens accrued at
    /// the old rate are kept up to the new burst, 10 ms at the new rate.
    pub fn set_rate(&mut self, rate: f64, now: Instant) {
        self.refill(now);
        self.rate = rate.max(MIN_RATE);
        self.burst = (self.rate / 100.0).max(1.0);
        self.tokens = self.tokens.min(self.burst);
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// Takes up to `want` tokens and returns how many were granted.
    pub fn take(&mut self, now: Instant, want: u32) -> u32 {
        self.refill(now);
        let granted = (self.tokens.floor() as u32).min(want);
        self.tokens -= f64::from(granted);
        granted
    }

    /// Returns tokens that were taken but not used (a short send).
    pub fn give_back(&mut self, n: u32) {
        self.tokens = (self.tokens + f64::from(n)).min(self.burst);
    }

    /// How long until at least one token is available.
    pub fn wait(&self) -> Duration {
        self.missing(1.0)
    }

    /// How long from `now` until `n` tokens are available, or half a burst
    /// if that is fewer (at least one token): waiting for a batch rather
    /// than one token lets a sender hand the kernel whole batches (and sleep
    /// in between) at moderate rates, and the other half of the burst
    /// absorbs the sender waking late.
    pub fn wait_for(&mut self, now: Instant, n: u32) -> Duration {
        self.refill(now);
        self.missing(f64::from(n).min(self.burst / 2.0).max(1.0))
    }

    fn missing(&self, n: f64) -> Duration {
        let missing = (n.min(self.burst) - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / self.rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates a sender that asks for a batch whenever the bucket says to.
    fn simulate(rate: f64, batch: u32, run: Duration) -> u64 {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(rate, start);
        let mut now = start;
        let mut sent = 0u64;
        while now < start + run {
            let n = bucket.take(now, batch);
            sent += u64::from(n);
            now += bucket.wait().max(Duration::from_micros(1));
        }
        sent
    }

    #[test]
    fn holds_the_rate_from_100_pps_to_millions() {
        for (rate, batch) in [(100.0, 64), (1_000.0, 64), (50_000.0, 64), (2_000_000.0, 64), (10.0, 1)] {
            let sent = simulate(rate, batch, Duration::from_secs(10)) as f64;
            let expected = rate * 10.0;
            assert!((sent - expected).abs() <= expected * 0.01 + 1.0, "rate {rate}: sent {sent}");
        }
    }

    /// Regression: the bucket clamped every rate to at least 1 pps, so
    /// nmap's slow templates (-T0 to -T2, down to one probe per 300 s)
    /// would have sent once a second.
    #[test]
    fn holds_rates_below_one_per_second() {
        // Each run ends half an interval past the last probe expected.
        for (rate, run, expected) in [(2.5, 100.2, 250), (1.0 / 15.0, 307.5, 20), (1.0 / 300.0, 3150.0, 10)] {
            let sent = simulate(rate, 64, Duration::from_secs_f64(run));
            assert_eq!(sent, expected, "rate {rate}");
        }
        let mut bucket = TokenBucket::new(1.0 / 300.0, Instant::now());
        assert_eq!(bucket.wait(), Duration::from_secs(300));
        bucket.set_rate(2.5, Instant::now());
        assert_eq!(bucket.rate(), 2.5);
    }

    /// As `simulate`, waiting each time for a whole batch.
    fn simulate_batches(rate: f64, batch: u32, run: Duration) -> (u64, u64) {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(rate, start);
        let mut now = start;
        let (mut sent, mut takes) = (0u64, 0u64);
        while now < start + run {
            now += bucket.wait_for(now, batch);
            let n = bucket.take(now, batch);
            sent += u64::from(n);
            takes += 1;
        }
        (sent, takes)
    }

    #[test]
    fn waiting_for_batches_holds_the_rate_with_fewer_sends() {
        for (rate, batch, per_take) in [(100.0, 64, 1), (50_000.0, 64, 64), (2_000_000.0, 64, 64)] {
            let (sent, takes) = simulate_batches(rate, batch, Duration::from_secs(10));
            let expected = rate * 10.0;
            assert!((sent as f64 - expected).abs() <= expected * 0.01 + 1.0, "rate {rate}: sent {sent}");
            assert!(sent.abs_diff(takes * per_take) <= per_take, "rate {rate}: {sent} in {takes} takes");
        }
    }

    /// Regression: with the burst capped at one batch, every token past it
    /// was lost while the sender was descheduled, and on a loaded machine
    /// scry sent half of `--rate 500000`. Here the sender wakes 3 ms late
    /// every tenth time, and 0.2 ms late otherwise.
    #[test]
    fn a_sender_waking_late_still_holds_the_rate() {
        for rate in [1_000.0, 50_000.0, 500_000.0, 2_000_000.0] {
            let start = Instant::now();
            let mut bucket = TokenBucket::new(rate, start);
            let (mut now, mut sent, mut wakes) = (start, 0u64, 0u32);
            while now < start + Duration::from_secs(10) {
                let wait = bucket.wait_for(now, 64);
                if !wait.is_zero() {
                    wakes += 1;
                    let late = if wakes % 10 == 0 { 3_000 } else { 200 };
                    now += wait + Duration::from_micros(late);
                }
                sent += u64::from(bucket.take(now, 64));
            }
            let expected = rate * 10.0;
            assert!((sent as f64 - expected).abs() <= expected * 0.01, "rate {rate}: sent {sent}");
        }
    }

    #[test]
    fn a_new_rate_holds_from_when_it_is_set() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1_000.0, start);
        assert_eq!(bucket.take(start + Duration::from_millis(5), 100), 5);
        bucket.set_rate(100_000.0, start + Duration::from_millis(5));
        assert_eq!(bucket.take(start + Duration::from_millis(6), 1_000), 100);
        bucket.set_rate(1_000.0, start + Duration::from_millis(10));
        // 400 tokens accrued at the high rate, but the new burst is 10.
        assert_eq!(bucket.take(start + Duration::from_millis(10), 1_000), 10);
    }

    #[test]
    fn a_stall_does_not_turn_into_a_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(1_000.0, start);
        assert_eq!(bucket.take(start + Duration::from_secs(60), 1_000), 10);
    }
}
