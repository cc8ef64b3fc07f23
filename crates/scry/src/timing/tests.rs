use super::*;
use crate::cli::{DEFAULT_RETRIES, DEFAULT_WAIT};

fn parse(line: &str) -> Args {
    let argv = std::iter::once("scry").chain(line.split_whitespace()).chain(["198.18.0.1"]);
    Args::try_parse_nmap(argv.map(Into::into)).expect("parses")
}

/// (max-rate, retries, wait, host-timeout, max-parallelism) after parsing `line`.
fn knobs(line: &str) -> (Option<f64>, u32, f64, Option<Duration>, Option<u32>) {
    let a = parse(line);
    (a.max_rate, a.retries, a.wait, a.host_timeout, a.max_parallelism)
}

const FIFTEEN_MINUTES: Option<Duration> = Some(Duration::from_secs(900));

#[test]
fn each_template_sets_nmaps_values_in_scrys_terms() {
    let defaults = (None, DEFAULT_RETRIES, DEFAULT_WAIT, None, None);
    assert_eq!(knobs(""), defaults);
    assert_eq!(knobs("-T0"), (Some(1.0 / 300.0), DEFAULT_RETRIES, 300.0, None, Some(1)));
    assert_eq!(knobs("-T1"), (Some(1.0 / 15.0), DEFAULT_RETRIES, 15.0, None, Some(1)));
    assert_eq!(knobs("-T2"), (Some(2.5), DEFAULT_RETRIES, DEFAULT_WAIT, None, Some(1)));
    assert_eq!(knobs("-T3"), defaults);
    assert_eq!(knobs("-T4"), (None, 6, 1.25, None, None));
    assert_eq!(knobs("-T5"), (None, 2, 0.3, FIFTEEN_MINUTES, None));
}

#[test]
fn names_digits_and_spellings_as_nmap_takes_them() {
    for (digit, name) in NAMES.iter().enumerate() {
        let by_digit = parse(&format!("-T{digit}")).timing;
        assert_eq!(by_digit.map(|t| t as usize), Some(digit));
        assert_eq!(parse(&format!("-T {name}")).timing, by_digit, "{name}");
        assert_eq!(parse(&format!("-T{}", name.to_uppercase())).timing, by_digit, "{name}");
    }
    assert_eq!(parse("-TAggressive").timing, Some(Template::Aggressive));
    assert_eq!(parse("").timing, None);
    // The later template wins, as in nmap.
    assert_eq!(knobs("-T5 -T4"), knobs("-T4"));
}

#[test]
fn bad_templates_name_the_token() {
    let why = |t: &str| {
        format!(
            "unknown timing template \"{t}\": use 0-5 or paranoid, sneaky, polite, normal, aggressive, \
             insane (e.g. -T4)"
        )
    };
    for bad in ["6", "fast", "45", "-1", "", "insane5"] {
        assert_eq!(Template::parse(bad), Err(why(bad)), "{bad}");
    }
}

#[test]
fn explicit_options_override_the_template_before_or_after_it() {
    for line in ["-T4 --max-retries 1 --wait 3", "--max-retries 1 --wait 3 -T4", "--retries 1 -T4 --wait 3"] {
        assert_eq!(knobs(line), (None, 1, 3.0, None, None), "{line}");
    }
    // An explicit value equal to scry's default still beats the template.
    assert_eq!(knobs("--max-retries 10 -T5 --wait 1"), (None, 10, 1.0, FIFTEEN_MINUTES, None));
    for line in ["-T5 --host-timeout 2m --max-parallelism 8", "--host-timeout 2m --max-parallelism 8 -T5"] {
        assert_eq!(knobs(line), (None, 2, 0.3, Some(Duration::from_secs(120)), Some(8)), "{line}");
    }
    for line in ["-T2 --max-parallelism 4", "--max-parallelism 4 -T2"] {
        assert_eq!(knobs(line), (Some(2.5), DEFAULT_RETRIES, DEFAULT_WAIT, None, Some(4)), "{line}");
    }
}

#[test]
fn os_detection_with_a_serial_template_is_refused_by_name() {
    assert_eq!(
        refused(&parse("-O -T2")),
        Some(
            "-T2 (polite) with -O: OS detection sends its probes on nmap's schedule (the sequence probes \
             100 ms apart), which one probe at a time, 0.4 s apart, cannot keep; leave out -O or use -T3 or \
             above"
                .into()
        )
    );
    assert!(refused(&parse("-Tparanoid -O")).is_some_and(|why| why.starts_with("-T0 (paranoid) with -O")));
    assert!(refused(&parse("-T1 -O")).is_some_and(|why| why.contains(", 15 s apart,")));
    for fine in ["-O -T3", "-O -T4", "-O -T5", "-O", "-T2", "-T0 -sV"] {
        assert_eq!(refused(&parse(fine)), None, "{fine}");
    }
}
