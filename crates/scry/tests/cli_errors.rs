//! Bad command lines: each fails before any packet with its own message and
//! exit status 2; missing privileges fail with status 1 naming CAP_NET_RAW.
//!
//! The bad-input runs need no lab. Under root they still run without it: in
//! a fresh, empty network namespace (`unshare --net`) and as uid 65534
//! (`setpriv`), so even a scry that wrongly accepted a spec could send nothing.

mod common;

use common::{Sniffer, SCRY};
use scry_lab::{lab_or_skip, Lab};
use std::process::{Command, Output, Stdio};

const NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/// Runs scry with `args`, unprivileged and isolated when we are root.
fn run_unprivileged(args: &[&str]) -> Output {
    run_unprivileged_with(args, &[])
}

/// [`run_unprivileged`] with environment variables `env` set.
fn run_unprivileged_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    // SAFETY: geteuid(2) has no preconditions.
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut cmd = Command::new("unshare");
        cmd.args(["--net", "setpriv"]).args(NOBODY).arg(SCRY);
        cmd
    } else {
        Command::new(SCRY)
    };
    cmd.args(args).envs(env.iter().copied()).stdin(Stdio::null()).output().expect("running scry")
}

/// Asserts scry refuses `args` with exit status 2 and exactly `message`.
fn refuses(args: &[&str], message: &str) {
    let out = run_unprivileged(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr, format!("scry: {message}\n"), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?} wrote output: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn port_above_65535() {
    refuses(&["-p", "70000", "198.18.0.10"], r#"bad port spec "70000": port 70000 is larger than 65535"#);
}

#[test]
fn backwards_port_range() {
    refuses(&["-p", "80-20", "198.18.0.10"], r#"bad port spec "80-20": range 80-20 runs backwards"#);
}

#[test]
fn octet_above_255() {
    refuses(&["-p", "80", "198.18.0.300"], r#"bad target "198.18.0.300": octet 300 is larger than 255"#);
}

#[test]
fn prefix_above_32() {
    refuses(
        &["-p", "80", "198.18.0.0/33"],
        r#"bad target "198.18.0.0/33": prefix length 33 is larger than 32"#,
    );
}

#[test]
fn shard_number_out_of_range() {
    refuses(
        &["-p", "80", "--shard", "4/4", "198.18.0.10"],
        r#"bad shard "4/4": shards are numbered from 0, so shard 4 of 4 does not exist (the last is 3/4)"#,
    );
    refuses(
        &["-p", "80", "--shard", "1", "198.18.0.10"],
        r#"bad shard "1": expected I/N, e.g. 0/4 for the first of four shards"#,
    );
}

#[test]
fn no_targets() {
    refuses(&["-p", "80"], "no targets given (usage: scry [-sS] -p PORTS [options] TARGET...)");
}

#[test]
fn syn_and_udp_together_need_a_port_left() {
    refuses(
        &["-sS", "-sU", "-p", "80", "--exclude-ports", "80", "198.18.0.10"],
        "no TCP or UDP ports left to scan",
    );
    for scan in ["-sS", "-sU", "-sA", "-sF", "-sT"] {
        refuses(
            &[scan, "-sn", "198.18.0.10"],
            "-sn (skip the port scan) cannot be combined with a port scan type (-sS, -sT, -sF, -sN, -sX, -sM, \
             -sA, -sW or -sU), as in nmap",
        );
    }
}

/// One TCP scan type at a time, as nmap: it refuses two with "You
/// specified more than one type of TCP scan"; -sU goes with any one.
#[test]
fn two_tcp_scan_types_are_refused_as_nmap_refuses_them() {
    let both = |named: &str| {
        format!(
            "you specified more than one type of TCP scan ({named}); please choose only one of -sS, -sT, -sF, \
             -sN, -sX, -sM, -sA and -sW, as nmap asks (-sU combines with any of them)"
        )
    };
    refuses(&["-sF", "-sA", "-p", "80", "198.18.0.10"], &both("-sF -sA"));
    refuses(&["-sSX", "-p", "80", "198.18.0.10"], &both("-sS -sX"));
    refuses(&["-sWUM", "-p", "80", "198.18.0.10"], &both("-sW -sM"));
    refuses(&["-sN", "-sU", "-p", "U:53", "-sA", "198.18.0.10"], &both("-sN -sA"));
    refuses(&["-sS", "-sT", "-p", "80", "198.18.0.10"], &both("-sT -sS"));
    refuses(&["-sTF", "-p", "80", "198.18.0.10"], &both("-sT -sF"));
}

/// A bad --scanflags is named, with what nmap takes instead.
#[test]
fn bad_scanflags_are_named() {
    for (flags, why) in [
        (
            "SYNFOO",
            "--scanflags SYNFOO: unknown flag name at \"FOO\" (use URG, ACK, PSH, RST, SYN, FIN, ECE, CWR, ALL \
             or NONE, e.g. URGPSHFIN, or a number)",
        ),
        ("300", "--scanflags 300: 300 is not a number from 0 to 255"),
    ] {
        let out = run_unprivileged(&["--scanflags", flags, "-p", "80", "198.18.0.10"]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{stderr}");
    }
}

#[test]
fn fast_mode_and_an_explicit_port_list_contradict() {
    refuses(
        &["-F", "-p", "80", "198.18.0.10"],
        "-F (fast scan) cannot be combined with -p (explicit port selection); --top-ports N picks the \
         most common ports of a -p range",
    );
}

/// A resume file's phase must be one the recorded scan has: counted from 1,
/// SYN before UDP. A hand-edited phase past
/// the last is refused at its file:line:column.
#[test]
fn resume_phase_the_scan_does_not_have() {
    let path = std::env::temp_dir().join(format!("scry-cli-{}-phase.resume", std::process::id()));
    let name = path.to_str().unwrap();
    let past = |phase: u32, args: &str, phases: usize| {
        let state = format!("seed = 7\nphase = {phase}\nposition = 3\nargs = {args}\n");
        std::fs::write(&path, state).unwrap();
        let message = format!(
            "{name}:2:9: phase {phase} is past the scan's last phase ({phases}); was the resume file written \
             for other scan types or ports?"
        );
        refuses(&["--resume", name], &message);
    };
    past(3, r#"["-sS", "-sU", "-p", "T:80,U:53", "198.18.0.10"]"#, 2);
    past(2, r#"["-p", "80", "198.18.0.10"]"#, 1);
    std::fs::write(&path, "seed = 7\nphase = 0\nposition = 3\nargs = [\"198.18.0.10\"]\n").unwrap();
    refuses(&["--resume", name], &format!("{name}:2:9: phase 0: phases count from 1 (SYN before UDP)"));
    let _ = std::fs::remove_file(&path);
}

#[test]
fn udp_ports_need_udp_scan_and_tcp_ports_syn_scan() {
    refuses(&["-p", "U:53", "198.18.0.10"], "only UDP ports given; they need -sU");
    refuses(&["-sU", "-p", "T:80", "198.18.0.10"], "only TCP ports given; they need -sS");
}

#[test]
fn bad_payload_file_names_line_column_and_token() {
    let path = std::env::temp_dir().join(format!("scry-cli-{}-payloads", std::process::id()));
    std::fs::write(&path, "# ok\nudp 53 \"\\x00\"\nudp 1-x \"a\"\n").unwrap();
    let name = path.to_str().unwrap();
    let message = format!("{name}:3:7: not a port number 0-65535 at \"x\"");
    refuses(&["-sU", "--udp-payloads", name, "-p", "U:53", "198.18.0.10"], &message);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_discovery_port_list() {
    refuses(
        &["-sn", "-PS70000", "198.18.0.10"],
        r#"-PS: bad port spec "70000": port 70000 is larger than 65535"#,
    );
}

#[test]
fn two_outputs_to_stdout() {
    refuses(
        &["-p", "80", "-oX", "-", "-oJ", "-", "198.18.0.10"],
        "only one output can go to standard output (-), but -oX and -oJ ask for it",
    );
    refuses(
        &["-p", "80", "-oA", "-", "198.18.0.10"],
        "-oA writes four files and cannot write to standard output (-)",
    );
}

#[test]
fn everything_excluded() {
    refuses(
        &["-p", "80", "198.18.0.10-11", "--exclude", "198.18.0.10,11"],
        "every target is excluded; nothing to scan",
    );
}

#[test]
fn bad_exclude_and_rate() {
    refuses(
        &["-p", "80", "198.18.0.10", "--exclude", "198.18.0.256"],
        r#"--exclude: bad target "198.18.0.256": octet 256 is larger than 255"#,
    );
    refuses(&["-p", "80", "--rate", "0", "198.18.0.10"], "--rate must be above 0, not 0");
}

/// `--rate` fixes the rate (masscan); `--min-rate` and `--max-rate` bound
/// the adaptive one (nmap): a contradiction among them is named.
#[test]
fn contradictory_rates() {
    refuses(
        &["-p", "80", "--min-rate", "5000", "--max-rate", "1000", "198.18.0.10"],
        "--min-rate 5000 is above --max-rate 1000",
    );
    refuses(
        &["-p", "80", "--rate", "20000", "--max-rate", "10000", "198.18.0.10"],
        "--rate 20000 is above --max-rate 10000 (--rate fixes the rate; --min-rate and --max-rate bound the rate \
         scry adapts without --rate)",
    );
    refuses(&["-p", "80", "--max-rate", "nan", "198.18.0.10"], "--max-rate must be above 0, not NaN");
}

#[test]
fn clap_errors_are_status_2() {
    let out = run_unprivileged(&["-p", "80", "-g", "70000", "198.18.0.10"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("70000") && stderr.contains("--source-port"), "{stderr}");
}

/// Without CAP_NET_RAW, -sS is refused, naming it, before any capture or
/// socket is opened: nothing reaches the wire. Run as uid 65534 inside the
/// lab's scanner namespace, while a root capture there watches `lo`; the
/// same run as root shows that capture does see probes.
#[test]
fn unprivileged_run_names_cap_net_raw_and_sends_nothing() {
    let lab = lab_or_skip!(Lab::builder());
    let args = [SCRY, "-sS", "-p", "1-100", "-e", "lo", "127.0.0.1"];
    let watch = Sniffer::start_on(lab.scanner(), "lo", "tcp");
    let out = lab.scanner().command("setpriv").args(NOBODY).args(args).stdin(Stdio::null()).output().unwrap();
    let seen = watch.finish();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    // Exactly the capability that is missing: CAP_NET_RAW, not CAP_NET_ADMIN too.
    let named = "scry: -sS (SYN scan) needs raw sockets: run scry as root, or give the binary CAP_NET_RAW \
                 (setcap cap_net_raw,cap_net_admin+ep); without privileges scry scans with -sT (TCP connect), \
                 as nmap\n";
    assert_eq!(stderr, named);
    assert!(out.stdout.is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(seen.is_empty(), "packets on lo: {seen:#?}");

    let watch = Sniffer::start_on(lab.scanner(), "lo", "tcp[tcpflags] == tcp-syn");
    let out = lab.scanner().command(args[0]).args(&args[1..]).stdin(Stdio::null()).output().unwrap();
    let seen = watch.finish();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(seen.len() >= 100, "the capture saw {} SYNs of a privileged scan", seen.len());
}

#[test]
fn os_detection_needs_a_try() {
    refuses(&["-O", "--max-os-tries", "0", "-p", "22", "198.18.0.10"], "--max-os-tries must be at least 1");
}

#[test]
fn os_detection_with_a_broken_database() {
    let path = std::env::temp_dir().join(format!("scry-bad-os-db-{}.db", std::process::id()));
    std::fs::write(&path, "Fingerprint Broken\nT1(R=Y%DF\n").unwrap();
    let arg = path.to_string_lossy().into_owned();
    let out = run_unprivileged(&["-O", "--os-db", &arg, "-p", "22", "198.18.0.10"]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.starts_with(&format!("scry: {arg}:2:")), "names file and line: {stderr}");
    assert!(out.stdout.is_empty());
}

/// Without nmap's data files (no nmap-common), a scan that needs one says
/// which, where scry looked and which package has it, before any packet.
#[test]
fn without_nmaps_data_files_scans_that_need_them_say_so() {
    let dir = std::env::temp_dir().join(format!("scry-no-nmap-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_string_lossy().into_owned();
    let env =
        [("SCRY_DATADIR", d.as_str()), ("XDG_DATA_HOME", &d), ("XDG_DATA_DIRS", &d), ("SCRY_NMAP_DIRS", "")];
    let looked = format!("(looked in {d}, {d}/scry, {d}/scry)");
    let hint = "Debian's nmap-common package installs it without nmap itself, or give --datadir DIR";
    let services = format!("nmap-services was not found {looked}; {hint}; or list ports by number with -p");
    for (args, message) in [
        (
            &["-F", "198.18.0.10"][..],
            format!("-F scans the 100 ports nmap-services ranks first, but {services}"),
        ),
        (
            &["198.18.0.10"],
            format!("without -p, scry scans the 1000 ports nmap-services ranks first, but {services}"),
        ),
        (
            &["-p", "22,http", "198.18.0.10"],
            format!("-p names a service (\"http\") that nmap-services would give a port, but {services}"),
        ),
        (
            &["-O", "-p", "22", "198.18.0.10"],
            format!("-O needs an OS database: nmap-os-db was not found {looked}; {hint}"),
        ),
    ] {
        let out = run_unprivileged_with(args, &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr, format!("scry: {message}\n"), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn os_detection_needs_the_wire() {
    refuses(&["-O", "--offline", "-p", "22", "198.18.0.10"], "-O needs replies; --offline sends nothing");
}

/// nmap options scry does not have are named, token and all, with what
/// scry offers instead, rather than left to a generic "unexpected argument".
#[test]
fn nmap_options_scry_lacks_are_named() {
    let scan_types =
        "this scan type is not available; scry scans with -sS (SYN), -sT (connect), -sF, -sN, -sX, \
                      -sM (FIN, NULL, Xmas, Maimon), -sA (ACK), -sW (window), --scanflags, -sU (UDP) and -sn \
                      (discovery only), and -sV detects versions";
    for (option, why) in [
        ("-sY", scan_types),
        ("-sSY", scan_types),
        ("-A", "aggressive mode (-O plus version, script and traceroute scans); scry has -O and -sV"),
        ("-PO", "this discovery probe is not available; scry has -PE, -PP, -PS, -PA, -PU, -PR and -Pn"),
    ] {
        refuses(&[option, "-p", "80", "198.18.0.10"], &format!("nmap's {option} is not supported: {why}"));
    }
}

/// nmap's timing templates are 0-5 or six names; anything else is named.
#[test]
fn bad_timing_template_is_named() {
    for (args, token) in [(["-T6"].as_slice(), "6"), (&["-Tfast"], "fast"), (&["-T", "turbo"], "turbo")] {
        let out = run_unprivileged(&[args, &["-p", "80", "198.18.0.10"]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let why = format!(
            "unknown timing template \"{token}\": use 0-5 or paranoid, sneaky, polite, normal, aggressive, \
             insane (e.g. -T4)"
        );
        assert!(stderr.contains(&why) && stderr.contains("-T <0-5|NAME>"), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // What does not carry over is refused by name.
    refuses(
        &["-O", "-T", "polite", "-p", "80", "198.18.0.10"],
        "-T2 (polite) with -O: OS detection sends its probes on nmap's schedule (the sequence probes 100 ms \
         apart), which one probe at a time, 0.4 s apart, cannot keep; leave out -O or use -T3 or above",
    );
}

/// Regression: shards without a seed each drew their own order, so they
/// overlapped and left pairs unprobed without a word.
#[test]
fn shard_without_seed() {
    let out = run_unprivileged(&["-p", "1-100", "--shard", "1/2", "198.18.0.10"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let why = "scry: --shard 1/2 needs --seed: every shard must walk the same order, or the shards overlap \
               and miss pairs; give all 2 shards one seed, e.g. --shard 1/2 --seed ";
    let seed = stderr.strip_prefix(why).unwrap_or_else(|| panic!("{stderr}"));
    assert!(seed.trim_end().parse::<u32>().is_ok(), "{stderr}");
    assert!(out.stdout.is_empty());
}

/// A bad `--versiondb` is refused before any packet, naming file:line:column.
#[test]
fn version_database_errors_name_the_place() {
    let path = std::env::temp_dir().join(format!("scry-bad-probes-{}", std::process::id()));
    std::fs::write(&path, "Probe TCP NULL q||\nProbe SCTP x q||\n").unwrap();
    let file = path.to_str().unwrap();
    refuses(
        &["-sV", "--versiondb", file, "-p", "22", "198.18.0.10"],
        &format!(r#"-sV: {file}:2:7: expected "TCP " or "UDP " after "Probe " in "Probe SCTP x q||""#),
    );
    std::fs::remove_file(&path).unwrap();
    refuses(
        &["-sV", "--versiondb", "/nonexistent-scry/probes", "-p", "22", "198.18.0.10"],
        "-sV: /nonexistent-scry/probes: No such file or directory (os error 2)",
    );
}

/// IPv6 targets nmap -6 would take, refused where they cannot be walked or
/// where nmap refuses the option with IPv6.
#[test]
fn ipv6_targets_scry_cannot_walk_or_probe() {
    refuses(
        &["-p", "80", "2001:2::/64"],
        "target \"2001:2::/64\" holds 18446744073709551616 addresses, more than the 16777216 one IPv6 \
         prefix may hold; give a longer prefix or an address list (-iL), or raise --max-targets (at most \
         4294967296)",
    );
    refuses(
        &["-p", "80", "--max-targets", "256", "2001:2::/119"],
        "target \"2001:2::/119\" holds 512 addresses, more than the 256 one IPv6 prefix may hold; give a \
         longer prefix or an address list (-iL), or raise --max-targets (at most 4294967296)",
    );
    refuses(
        &["-p", "80", "--max-targets", "0", "2001:2::1"],
        "--max-targets 0 is out of range: give 1 to 4294967296 addresses per IPv6 prefix",
    );
    refuses(
        &["-p", "80", "fe80::1"],
        "bad target \"fe80::1\": a link-local address needs its interface, as in fe80::1%eth0",
    );
    refuses(
        &["-sn", "-PP", "-6", "2001:2::1"],
        "ICMP Timestamp and Address Mask pings are only valid for IPv4 (-PP)",
    );
    refuses(
        &["-sn", "-PP", "198.18.0.1", "2001:2::1"],
        "ICMP Timestamp and Address Mask pings are only valid for IPv4 (-PP)",
    );
}
