//! nmap's timing templates (`-T0`..`-T5`, or `-T paranoid`..`-T insane`),
//! mapped onto scry's own knobs.
//!
//! The Nmap book's "Timing Templates (-T)" and nmap's option parsing give
//! what each template sets: T0-T2 probe serially with 300 s, 15 s and 0.4 s
//! between probes; T3 is the default; T4 and T5 shorten the round-trip
//! timeouts (max-rtt-timeout 1250 ms and 300 ms), cap retransmissions (6 and
//! 2) and T5 gives up on a host after 15 minutes. scry has no per-host
//! round-trip timer or scan delay: the serial templates become a rate
//! ceiling (one probe per delay) and one connection at a time, the fast ones
//! keep the adaptive rate with nmap's retries, and the cooldown after the
//! last probe (`--wait`) becomes the template's max-rtt-timeout.
//! docs/scanning.md has the table.
//!
//! As in nmap, an option given explicitly beats the template whatever their
//! order on the command line.

use crate::cli::Args;
use std::time::Duration;

/// One of nmap's six timing templates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    Paranoid,
    Sneaky,
    Polite,
    Normal,
    Aggressive,
    Insane,
}

/// The names nmap takes, in template order (0 to 5).
const NAMES: [&str; 6] = ["paranoid", "sneaky", "polite", "normal", "aggressive", "insane"];

/// What a template sets; `None` leaves scry's default.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Settings {
    /// `--max-rate`: one probe per nmap scan delay.
    pub max_rate: Option<f64>,
    /// `--max-retries`.
    pub retries: Option<u32>,
    /// `--wait`, in seconds: nmap's max-rtt-timeout.
    pub wait: Option<f64>,
    /// `--host-timeout` (for -sV, as scry's).
    pub host_timeout: Option<Duration>,
    /// `--max-parallelism`: nmap's serial templates probe one at a time.
    pub max_parallelism: Option<u32>,
}

impl Template {
    /// Parses `-T`'s value as nmap does: a digit 0-5 or a name, in any case.
    ///
    /// # Errors
    /// Anything else, naming the token and what is accepted.
    pub fn parse(text: &str) -> Result<Template, String> {
        const ALL: [Template; 6] = [
            Template::Paranoid,
            Template::Sneaky,
            Template::Polite,
            Template::Normal,
            Template::Aggressive,
            Template::Insane,
        ];
        let by_digit = text.parse::<usize>().ok().filter(|_| text.len() == 1);
        let by_name = NAMES.iter().position(|name| name.eq_ignore_ascii_case(text));
        match by_digit.filter(|n| *n < ALL.len()).or(by_name) {
            Some(n) => Ok(ALL[n]),
            None => Err(format!(
                "unknown timing template \"{text}\": use 0-5 or paranoid, sneaky, polite, normal, \
                 aggressive, insane (e.g. -T4)"
            )),
        }
    }

    /// What the template sets in scry's terms.
    pub fn settings(self) -> Settings {
        // nmap's scan delay between probes becomes one probe per delay.
        let serial = |delay_secs: f64, wait: Option<f64>| Settings {
            max_rate: Some(1.0 / delay_secs),
            wait,
            max_parallelism: Some(1),
            ..Settings::default()
        };
        match self {
            // T0 and T1 also raise the round-trip timeout to the delay:
            // replies are awaited that long after the last probe.
            Template::Paranoid => serial(300.0, Some(300.0)),
            Template::Sneaky => serial(15.0, Some(15.0)),
            // T2 keeps nmap's default round-trip timeout, hence scry's default wait.
            Template::Polite => serial(0.4, None),
            Template::Normal => Settings::default(),
            Template::Aggressive => Settings { retries: Some(6), wait: Some(1.25), ..Settings::default() },
            Template::Insane => Settings {
                retries: Some(2),
                wait: Some(0.3),
                host_timeout: Some(Duration::from_secs(15 * 60)),
                ..Settings::default()
            },
        }
    }
}

/// What cannot carry over: `-O` with a serial template. OS detection sends
/// its probes on nmap's own schedule (the six sequence probes 100 ms apart,
/// which its fingerprint's timing tests measure), and no rate ceiling
/// spaces them out; a scan promised as serial would not be.
pub fn refused(args: &Args) -> Option<String> {
    let template = args.timing?;
    let serial = template.settings().max_parallelism.is_some();
    (serial && args.os_detect).then(|| {
        let n = template as usize;
        format!(
            "-T{n} ({}) with -O: OS detection sends its probes on nmap's schedule (the sequence probes \
             100 ms apart), which one probe at a time, {} apart, cannot keep; leave out -O or use -T3 or above",
            NAMES[n],
            ["300 s", "15 s", "0.4 s"][n]
        )
    })
}

/// Applies `args.timing` to the options not given explicitly; `given`
/// says whether an option (by its clap id) was on the command line. The
/// template's rate ceiling is left out when any of `--rate`, `--min-rate`
/// or `--max-rate` was given: an explicit rate replaces the template's.
pub fn apply(args: &mut Args, given: impl Fn(&str) -> bool) {
    let Some(template) = args.timing else { return };
    let set = template.settings();
    if args.rate.is_none() && args.min_rate.is_none() && args.max_rate.is_none() {
        args.max_rate = set.max_rate;
    }
    if let Some(retries) = set.retries.filter(|_| !given("retries")) {
        args.retries = retries;
    }
    if let Some(wait) = set.wait.filter(|_| !given("wait")) {
        args.wait = wait;
    }
    args.host_timeout = args.host_timeout.or(set.host_timeout);
    args.max_parallelism = args.max_parallelism.or(set.max_parallelism);
}

// Spelled out: the scry-assets example compiles this file from elsewhere.
#[cfg(test)]
#[path = "timing/tests.rs"]
mod tests;
