//! When to resend: how many passes over the unanswered probes a scan makes,
//! and how long to listen before starting the next one.
//!
//! A retry pass walks the permutation again and resends only the pairs that
//! have not answered. How many passes run follows nmap's rule for
//! retransmissions (`allowedTryno` in nmap's scan engine): a scan may go one
//! try beyond the highest try that ever drew a first answer, up to the
//! user's `--retries`. With no loss, replies come to the first pass only, so
//! one retry pass runs for the silent pairs and the scan ends; with loss,
//! every pass that still finds something earns another, so recall climbs
//! with the loss rate instead of being fixed in advance.
//!
//! I/O-free: callers record what happened and ask; nothing here reads a clock.

use std::time::Duration;

/// Listening before a retry pass when no round-trip time is known yet.
pub const DEFAULT_QUIET: Duration = Duration::from_millis(100);
/// The shortest quiet period, whatever the round-trip time: scheduling on
/// both ends jitters by milliseconds.
pub const MIN_QUIET: Duration = Duration::from_millis(25);
/// The longest quiet period a measured round-trip time can ask for.
pub const MAX_QUIET: Duration = Duration::from_secs(1);
/// Round-trip times per quiet period: room for replies that queue behind
/// others and for a round-trip time that varies between targets.
const QUIET_RTTS: u32 = 4;

/// Whether retry pass `pass` may run (pass 0 is the first send, pass 1 the
/// first retransmission).
///
/// `max_retries` is the user's cap; `best` is the highest pass during which
/// some pair answered for the first time, `None` while nothing has answered.
pub fn pass_allowed(pass: u32, max_retries: u32, best: Option<u32>) -> bool {
    let earned = best.map_or(1, |b| b.saturating_add(1)).max(1);
    pass <= max_retries && pass <= earned
}

/// How long the line must stay silent before a retry pass starts.
///
/// `rtt_bound` is an upper bound on some probe's round-trip time: the time
/// from the first probe sent to the first valid reply, which can only
/// overestimate the round trip of the probe it answers.
pub fn quiet_period(rtt_bound: Option<Duration>) -> Duration {
    match rtt_bound {
        None => DEFAULT_QUIET,
        Some(rtt) => rtt.saturating_mul(QUIET_RTTS).clamp(MIN_QUIET, MAX_QUIET),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_retry_pass_runs_when_nothing_answered() {
        assert!(pass_allowed(1, 10, None));
        assert!(!pass_allowed(2, 10, None));
    }

    #[test]
    fn answers_only_to_the_first_pass_earn_one_retry() {
        assert!(pass_allowed(1, 10, Some(0)));
        assert!(!pass_allowed(2, 10, Some(0)));
    }

    #[test]
    fn each_answering_retry_earns_the_next() {
        assert!(pass_allowed(2, 10, Some(1)));
        assert!(!pass_allowed(3, 10, Some(1)));
        assert!(pass_allowed(5, 10, Some(4)));
    }

    #[test]
    fn the_user_cap_wins() {
        assert!(!pass_allowed(1, 0, Some(0)));
        assert!(!pass_allowed(3, 2, Some(2)));
        assert!(pass_allowed(2, 2, Some(5)));
        assert!(!pass_allowed(u32::MAX, 3, Some(u32::MAX)));
    }

    #[test]
    fn quiet_follows_the_round_trip_within_bounds() {
        assert_eq!(quiet_period(None), DEFAULT_QUIET);
        assert_eq!(quiet_period(Some(Duration::from_micros(80))), MIN_QUIET);
        assert_eq!(quiet_period(Some(Duration::from_millis(40))), Duration::from_millis(160));
        assert_eq!(quiet_period(Some(Duration::from_secs(30))), MAX_QUIET);
        assert_eq!(quiet_period(Some(Duration::MAX)), MAX_QUIET);
    }
}
