//! The controller against simulated paths, in simulated time: a path with a
//! capacity (a token bucket, as nft `limit rate`), random loss, a round
//! trip, and a receiver that can hold only so many answers per millisecond.

use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A simulated path to one host that answers every probe that reaches it.
struct Path {
    /// Probes per second the path lets through (its burst is 5 ms of that).
    capacity: f64,
    /// Share of probes lost at random.
    loss: f64,
    /// Answers per millisecond the receiver can take; more are dropped.
    receiver: u64,
    /// Whether the host answers at all.
    answers: bool,
}

impl Default for Path {
    fn default() -> Self {
        Path { capacity: f64::INFINITY, loss: 0.0, receiver: u64::MAX, answers: true }
    }
}

/// What a run saw: the rate at every millisecond, answers, the controller.
struct Run {
    rates: Vec<f64>,
    answered: u64,
    sent: u64,
    control: RateControl,
}

impl Run {
    /// The mean rate over milliseconds `from..to`.
    fn mean(&self, from: usize, to: usize) -> f64 {
        self.rates[from..to].iter().sum::<f64>() / (to - from) as f64
    }

    fn max(&self) -> f64 {
        self.rates.iter().copied().fold(0.0, f64::max)
    }
}

const RTT: usize = 1;
const LAG: Duration = Duration::from_millis(3);

fn simulate(path: &Path, bounds: Bounds, millis: usize) -> Run {
    let mut rng = StdRng::seed_from_u64(14);
    let start = Instant::now();
    let mut control = RateControl::new(bounds, start);
    let mut ev = Evidence::default();
    let mut due = vec![0u64; millis + RTT + 1];
    let (mut credit, mut tokens) = (0.0, 0.0);
    let burst = path.capacity * 0.005;
    let mut rates = Vec::with_capacity(millis);
    for ms in 0..millis {
        let now = start + Duration::from_millis(ms as u64);
        rates.push(control.rate());
        credit += control.rate() / 1000.0;
        tokens = (tokens + path.capacity / 1000.0).min(burst);
        while credit >= 1.0 {
            credit -= 1.0;
            if path.answers {
                ev.sent += 1;
            }
            let through = tokens >= 1.0;
            if through {
                tokens -= 1.0;
            }
            if path.answers && through && rng.random::<f64>() >= path.loss {
                due[ms + RTT] += 1;
            }
        }
        let arriving = due[ms];
        let taken = arriving.min(path.receiver);
        ev.answered += taken;
        ev.dropped += arriving - taken;
        control.observe(now, now, ev, LAG);
    }
    Run { rates, answered: ev.answered, sent: ev.sent, control }
}

#[test]
fn a_clean_path_ramps_to_the_ceiling_within_a_fifth_of_a_second() {
    let run = simulate(&Path::default(), Bounds::default(), 1_000);
    assert_eq!(run.rates[0], START_RATE);
    let at = run.rates.iter().position(|r| *r == DEFAULT_MAX_RATE).expect("reaches the ceiling");
    assert!(at <= 200, "reached the ceiling after {at} ms");
    assert!(run.rates[at..].iter().all(|r| *r == DEFAULT_MAX_RATE));
    assert_eq!(run.answered, run.sent - (run.rates[999] / 1000.0) as u64 * RTT as u64);
}

#[test]
fn never_above_the_ceiling_nor_below_the_floor() {
    let bounds = Bounds { min: 2_000.0, max: 50_000.0 };
    let clean = simulate(&Path::default(), bounds, 2_000);
    assert_eq!(clean.max(), 50_000.0);
    // A path of 500 pps would pull the rate far below the floor.
    let narrow = simulate(&Path { capacity: 500.0, ..Path::default() }, bounds, 5_000);
    assert!(narrow.rates.iter().all(|r| (2_000.0..=50_000.0).contains(r)), "{:?}", narrow.rates);
    assert_eq!(narrow.rates[4_999], 2_000.0);
}

#[test]
fn nothing_answering_leaves_the_start_rate() {
    let run = simulate(&Path { answers: false, ..Path::default() }, Bounds::default(), 10_000);
    assert!(run.rates.iter().all(|r| *r == START_RATE));
}

#[test]
fn a_rate_limit_is_found_and_held_near() {
    let path = Path { capacity: 3_000.0, ..Path::default() };
    let run = simulate(&path, Bounds::default(), 20_000);
    let mean = run.mean(5_000, 20_000);
    assert!((1_500.0..=3_300.0).contains(&mean), "mean {mean}");
    assert!(run.rates[5_000..].iter().all(|r| *r <= 6_000.0), "{:?}", &run.rates[5_000..]);
    // Most probes got through: the rate hovers at the limit, not far past it.
    assert!(run.answered as f64 >= run.sent as f64 * 0.8, "{} of {}", run.answered, run.sent);
    assert_eq!(run.control.background(), 0.0);
}

#[test]
fn random_loss_is_learnt_as_background_and_the_rate_still_climbs() {
    let path = Path { loss: 0.10, ..Path::default() };
    let run = simulate(&path, Bounds::default(), 2_000);
    assert_eq!(run.rates[1_999], DEFAULT_MAX_RATE, "{:?}", &run.rates[..400]);
    let b = run.control.background();
    assert!((0.07..=0.13).contains(&b), "background {b}");
    assert!(run.mean(1_000, 2_000) >= DEFAULT_MAX_RATE * 0.9);
}

#[test]
fn random_loss_behind_a_rate_limit_still_finds_the_limit() {
    let path = Path { capacity: 100_000.0, loss: 0.10, ..Path::default() };
    let run = simulate(&path, Bounds::default(), 20_000);
    let mean = run.mean(5_000, 20_000);
    assert!((50_000.0..=115_000.0).contains(&mean), "mean {mean}");
}

#[test]
fn receive_drops_halve_the_rate() {
    // The receiver takes 200 answers a millisecond: 200 kpps.
    let run = simulate(&Path { receiver: 200, ..Path::default() }, Bounds::default(), 10_000);
    let mean = run.mean(2_000, 10_000);
    assert!((100_000.0..=220_000.0).contains(&mean), "mean {mean}");
    assert!(run.rates[2_000..].iter().all(|r| *r <= 450_000.0));
}

#[test]
fn rounds_need_answers_from_the_round_itself() {
    let start = Instant::now();
    let mut control = RateControl::new(Bounds::default(), start);
    let ms = |n: u64| start + Duration::from_millis(n);
    // 200 probes by 10 ms, none answered by 10 ms + lag: all lost.
    let ev = Evidence { sent: 200, ..Evidence::default() };
    assert_eq!(control.observe(ms(5), ms(5), Evidence { sent: 100, ..ev }, LAG), None);
    assert_eq!(control.observe(ms(10), ms(10), ev, LAG), None);
    let change = control.observe(ms(13), ms(13), ev, LAG).expect("a decrease");
    assert_eq!(change, Change { rate: 5_000.0, why: Why::Down { lost: 200, refused: 0, of: 200 } });
    // At half the rate, still everything lost: halve once more to be sure.
    let ev2 = Evidence { sent: 400, ..ev };
    assert_eq!(control.observe(ms(23), ms(23), ev2, LAG), None);
    let change = control.observe(ms(26), ms(26), ev2, LAG).expect("a second decrease");
    assert_eq!(change, Change { rate: 2_500.0, why: Why::Down { lost: 200, refused: 0, of: 200 } });
    // At a quarter of the rate, still everything lost: not the rate's fault.
    let ev3 = Evidence { sent: 600, ..ev };
    assert_eq!(control.observe(ms(36), ms(36), ev3, LAG), None);
    let change = control.observe(ms(39), ms(39), ev3, LAG).expect("back up");
    assert_eq!(change, Change { rate: 10_000.0, why: Why::Background { loss: 1.0 } });
}

#[test]
fn a_receiver_behind_delays_the_verdict() {
    let start = Instant::now();
    let mut control = RateControl::new(Bounds::default(), start);
    let ms = |n: u64| start + Duration::from_millis(n);
    control.observe(ms(4), ms(4), Evidence::default(), LAG);
    let sent = Evidence { sent: 200, ..Evidence::default() };
    control.observe(ms(10), ms(4), sent, LAG);
    // The receiver has counted nothing past 4 ms: no verdict however late.
    assert_eq!(control.observe(ms(50), ms(12), sent, LAG), None);
    let answered = Evidence { answered: 200, ..sent };
    let change = control.observe(ms(51), ms(51), answered, LAG).expect("an increase");
    assert_eq!(change, Change { rate: 20_000.0, why: Why::Up { lost: 0, of: 200 } });
}

#[test]
fn refusals_count_as_loss() {
    let start = Instant::now();
    let mut control = RateControl::new(Bounds::default(), start);
    let ms = |n: u64| start + Duration::from_millis(n);
    control.observe(ms(4), ms(4), Evidence::default(), LAG);
    let ev = Evidence { sent: 200, answered: 200, refused: 40, dropped: 0 };
    control.observe(ms(10), ms(10), ev, LAG);
    let change = control.observe(ms(13), ms(13), ev, LAG).expect("a decrease");
    assert_eq!(change.why, Why::Down { lost: 40, refused: 40, of: 200 });
}

#[test]
fn reasons_read_as_the_progress_line_shows_them() {
    assert_eq!(Why::Up { lost: 0, of: 412 }.to_string(), "up: 0 of 412 unanswered in the last round");
    assert_eq!(
        Why::Down { lost: 12, refused: 0, of: 400 }.to_string(),
        "down: 12 of 400 unanswered in the last round"
    );
    assert_eq!(
        Why::Down { lost: 40, refused: 30, of: 400 }.to_string(),
        "down: 40 of 400 unanswered in the last round, 30 ICMP errors"
    );
    assert_eq!(Why::Drops(7).to_string(), "down: 7 receive drops");
    assert_eq!(Why::Background { loss: 0.1 }.to_string(), "up: 10% loss does not fall with the rate");
}

#[test]
fn start_rate_within_bounds() {
    assert_eq!(Bounds::default().start(), START_RATE);
    assert_eq!(Bounds { min: 50_000.0, max: 1e6 }.start(), 50_000.0);
    assert_eq!(Bounds { min: 1.0, max: 500.0 }.start(), 500.0);
}
