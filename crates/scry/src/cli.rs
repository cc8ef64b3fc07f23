//! Command-line arguments, spelled the way nmap spells them.
//!
//! nmap's two-letter single-dash options (`-sS`, `-iL`, `-oN`, `-Pn`) are not
//! expressible as clap short flags, so [`nmap_aliases`] rewrites exactly those
//! tokens to long options before clap parses; everything else is clap's.

use crate::timing::Template;
use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use scry_packet::{Mac, TcpFlags};
use scry_probe::tcpscan::{TcpScan, TcpScanSpec};
use std::ffi::OsString;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default cap on retransmissions of an unanswered probe (nmap's
/// `--max-retries` default). Fewer are sent unless loss is seen: a retry
/// pass runs only when the pass before it drew new answers.
pub const DEFAULT_RETRIES: u32 = 10;
/// How many of the most common ports -F scans, as nmap's fast mode.
pub const FAST_TOP_PORTS: usize = 100;
/// The user a root scan changes to once its sockets are open (`--user`).
pub const DEFAULT_USER: &str = "nobody";
/// Default cooldown after the last probe, in seconds.
pub const DEFAULT_WAIT: f64 = 1.0;

/// nmap's multi-letter single-dash options and the long options they mean here.
const ALIASES: &[(&str, &str)] = &[
    ("-sS", "--syn-scan"),
    ("-sT", "--connect-scan"),
    ("-iL", "--input-list"),
    ("-oN", "--output-normal"),
    ("-oJ", "--output-json"),
    ("-oX", "--output-xml"),
    ("-oG", "--output-grepable"),
    ("-oA", "--output-all"),
    ("-Pn", "--no-ping"),
    ("-sn", "--ping-scan"),
    ("-sU", "--udp-scan"),
    ("-PE", "--echo-ping"),
    ("-PP", "--timestamp-ping"),
    ("-PR", "--arp-ping"),
    ("-PS", "--syn-ping"),
    ("-PA", "--ack-ping"),
    ("-PU", "--udp-ping"),
    ("-sV", "--service-version"),
    ("-sF", "--fin-scan"),
    ("-sN", "--null-scan"),
    ("-sX", "--xmas-scan"),
    ("-sA", "--ack-scan"),
    ("-sW", "--window-scan"),
    ("-sM", "--maimon-scan"),
];

/// The letters of the `-s` scan types that may run together (`-sSUV`, `-sFU`).
const SCAN_LETTERS: &str = "STUVFNXAWM";

/// Aliases whose value is optional and glued on (`-PS`, `-PS22,443`), as
/// `--syn-ping=22,443`, so a bare one never swallows the next argument.
const GLUED_ONLY: &[&str] = &["--syn-ping", "--ack-ping", "--udp-ping"];

/// Aliases that take no value at all.
const FLAGS: &[&str] = &["--service-version", "--no-ping", "--echo-ping", "--timestamp-ping", "--arp-ping"];

/// nmap's single-dash spellings that mean the same as another scry option.
const SYNONYMS: &[(&str, &str)] = &[
    // nmap still takes -P0 (zero) for -Pn.
    ("-P0", "--no-ping"),
    // Fast mode: the 100 most common ports.
    ("-F", "--fast"),
];

/// What an nmap option scry does not have is, and what scry offers instead;
/// `None` for anything else (clap then reports it as unknown).
pub fn unsupported(option: &str) -> Option<&'static str> {
    let letters = |rest: &str| !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric());
    Some(match option {
        "-A" => "aggressive mode (-O plus version, script and traceroute scans); scry has -O and -sV",
        "-sC" => "NSE scripts are not available in scry",
        "-r" => {
            "a stateless scan walks a random permutation of every (address, port) pair; \
                 give --seed to repeat an order"
        }
        _ if option.starts_with("--script") => "NSE scripts are not available in scry",
        _ if option == "--traceroute" => "traceroute is not available in scry",
        _ if option.strip_prefix("-s").is_some_and(letters) => {
            "this scan type is not available; scry scans with -sS (SYN), -sT (connect), -sF, -sN, -sX, \
             -sM (FIN, NULL, Xmas, Maimon), -sA (ACK), -sW (window), --scanflags, -sU (UDP) and -sn \
             (discovery only), and -sV detects versions"
        }
        _ if option.strip_prefix("-P").is_some_and(letters) => {
            "this discovery probe is not available; scry has -PE, -PP, -PS, -PA, -PU, -PR and -Pn"
        }
        _ if option.len() == 3 && option.strip_prefix("-o").is_some_and(letters) => {
            "this output format is not available; scry writes -oN, -oX, -oG, -oJ and -oA"
        }
        _ => return None,
    })
}

/// Rewrites nmap's multi-letter options (`-sS`, `-oN FILE`, `-oNFILE`) to long options.
pub fn nmap_aliases(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut options_ended = false;
    for arg in args {
        let text = arg.to_string_lossy().into_owned();
        if options_ended || text == "--" {
            options_ended = true;
            out.push(arg);
            continue;
        }
        // nmap takes several scan types in one option: -sSUV is -sS -sU -sV.
        if let Some(types) =
            text.strip_prefix("-s").filter(|t| t.len() > 1 && t.chars().all(|c| SCAN_LETTERS.contains(c)))
        {
            out.extend(types.chars().filter_map(|c| {
                let option = format!("-s{c}");
                ALIASES.iter().find(|(short, _)| *short == option).map(|(_, long)| OsString::from(long))
            }));
            continue;
        }
        // nmap's -dN sets the debugging level; -d and -dd count.
        if let Some(level) =
            text.strip_prefix("-d").filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        {
            out.push(OsString::from(format!("--debug-level={level}")));
            continue;
        }
        match ALIASES.iter().find(|(short, _)| text.starts_with(short)) {
            Some((short, long)) if text.len() == short.len() => out.push(OsString::from(long)),
            Some((short, long)) if GLUED_ONLY.contains(long) => {
                out.push(OsString::from(format!("{long}={}", &text[short.len()..])));
            }
            // -oNfile / -iLfile: value glued on, as nmap allows.
            Some((short, long)) if !long.ends_with("-scan") && !FLAGS.contains(long) => {
                out.push(OsString::from(long));
                out.push(OsString::from(&text[short.len()..]));
            }
            _ => match SYNONYMS.iter().find(|(nmap, _)| text == *nmap) {
                Some((_, ours)) => out.push(OsString::from(ours)),
                None if unsupported(&text).is_some() => {
                    out.push(OsString::from(format!("--unsupported-nmap-option={text}")));
                }
                None => out.push(arg),
            },
        }
    }
    out
}

/// A time as nmap spells it: seconds, or a number with `ms`, `s`, `m` or `h`.
fn parse_time(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "" | "s" => 1.0,
        "ms" => 0.001,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("unknown unit \"{unit}\" (use ms, s, m or h)")),
    };
    match number.parse::<f64>() {
        Ok(n) if n > 0.0 && (n * scale).is_finite() => Ok(Duration::from_secs_f64(n * scale)),
        _ => Err(format!("\"{text}\" is not a time above zero (e.g. 5, 5s, 500ms, 2m)")),
    }
}

/// scry: a raw-packet port scanner that speaks nmap's flags.
#[derive(Parser, Debug)]
#[command(
    name = "scry",
    version,
    // --version also lists the data files found: see `Args::version`.
    disable_version_flag = true,
    override_usage = "scry [-sS|-sT|-sF|-sN|-sX|-sM|-sA|-sW] [--scanflags FLAGS] [-sU] -p PORTS [options] TARGET...\n       \
                      scry -sn [-PE] [-PP] [-PS[PORTS]] [-PA[PORTS]] [-PU[PORTS]] [-PR] TARGET...\n       \
                      scry --resume FILE\n       \
                      scry history | show [SCAN] | diff [A] [B] | import FILE...   (the scans kept: --help on each)",
    // A later option overrides an earlier one, as in nmap; a resumed run relies on it.
    args_override_self = true,
    after_help = "Targets: 198.18.0.1, 198.18.0.0/24, 198.18.0.1-20, 198.18.1-2.0-255, hostnames.\n\
                  Exit status: 0 scan completed (also after Ctrl-C), 1 runtime error \
                  (privileges, interface, routing), 2 bad command line or input."
)]
pub struct Args {
    /// Targets: addresses, CIDR blocks, octet ranges, hostnames.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,

    /// TCP SYN (half-open) scan, the default [-sS].
    #[arg(long = "syn-scan")]
    pub syn_scan: bool,

    /// TCP FIN scan: a closed port resets, an open one stays silent [-sF].
    #[arg(long = "fin-scan")]
    pub fin_scan: bool,

    /// TCP NULL scan (no flags set), read as the FIN scan [-sN].
    #[arg(long = "null-scan")]
    pub null_scan: bool,

    /// TCP Xmas scan (FIN, PSH and URG), read as the FIN scan [-sX].
    #[arg(long = "xmas-scan")]
    pub xmas_scan: bool,

    /// TCP ACK scan: unfiltered (a reset came back) or filtered, to map firewall rules [-sA].
    #[arg(long = "ack-scan")]
    pub ack_scan: bool,

    /// TCP window scan: an ACK scan reading the reset's window, non-zero open, zero closed [-sW].
    #[arg(long = "window-scan")]
    pub window_scan: bool,

    /// TCP Maimon scan (FIN and ACK), read as the FIN scan [-sM].
    #[arg(long = "maimon-scan")]
    pub maimon_scan: bool,

    /// TCP flags of the scan's probes: names run together (URGACKPSHRSTSYNFIN, any order)
    /// or a number; replies are read by the scan type given (default: as a SYN scan).
    #[arg(long = "scanflags", value_name = "FLAGS", value_parser = parse_scanflags)]
    pub scanflags: Option<TcpFlags>,

    /// TCP connect scan: the kernel's connect(), no privileges needed; the
    /// default without CAP_NET_RAW [-sT].
    #[arg(long = "connect-scan")]
    pub connect_scan: bool,

    /// Ports: 22,80,1000-2000; - for 1-65535; T:/U: prefixes; service names.
    #[arg(short = 'p', value_name = "PORTS", allow_hyphen_values = true)]
    pub ports: Option<String>,

    /// Scan the N most common ports (nmap-services frequencies).
    #[arg(long = "top-ports", value_name = "N")]
    pub top_ports: Option<usize>,

    /// Fast mode: the 100 most common ports, unless --top-ports says otherwise [-F].
    #[arg(long = "fast")]
    pub fast: bool,

    /// Ports to leave out, same syntax as -p.
    #[arg(long = "exclude-ports", value_name = "PORTS", allow_hyphen_values = true)]
    pub exclude_ports: Option<String>,

    /// Read targets from FILE (- for standard input) [-iL].
    #[arg(long = "input-list", value_name = "FILE")]
    pub input_list: Option<PathBuf>,

    /// Comma-separated targets never to probe.
    #[arg(long = "exclude", value_name = "LIST")]
    pub exclude: Option<String>,

    /// Read targets never to probe from FILE.
    #[arg(long = "excludefile", value_name = "FILE")]
    pub exclude_file: Option<PathBuf>,

    /// A fixed rate in packets per second (with -sT, connection attempts
    /// per second). Without it the rate adapts between --min-rate and --max-rate.
    #[arg(long = "rate", value_name = "PPS")]
    pub rate: Option<f64>,

    /// The adaptive rate's floor in packets per second (default 100).
    #[arg(long = "min-rate", value_name = "PPS")]
    pub min_rate: Option<f64>,

    /// The adaptive rate's ceiling in packets per second (default 1000000).
    #[arg(long = "max-rate", value_name = "PPS")]
    pub max_rate: Option<f64>,

    /// nmap's timing template: 0-5 or paranoid, sneaky, polite, normal,
    /// aggressive, insane (docs/scanning.md: what each sets here). Options
    /// given explicitly override it, before or after it.
    #[arg(short = 'T', value_name = "0-5|NAME", value_parser = Template::parse)]
    pub timing: Option<Template>,

    /// Retransmissions of a probe that got no answer.
    #[arg(long = "retries", alias = "max-retries", value_name = "N", default_value_t = DEFAULT_RETRIES)]
    pub retries: u32,

    /// Seconds to keep listening after the last probe.
    #[arg(long = "wait", value_name = "SECS", default_value_t = DEFAULT_WAIT)]
    pub wait: f64,

    /// Seed for the probe order (same seed, same order; required with --shard).
    #[arg(long = "seed", value_name = "N")]
    pub seed: Option<u64>,

    /// Scan only shard I of N (0-based, I/N); shards with one seed cover the scan exactly.
    /// `auto` or `auto/N`: I and N from a Slurm array or Kubernetes Indexed Job (docs/scale-out.md).
    #[arg(long = "shard", value_name = "I/N|auto")]
    pub shard: Option<String>,

    /// Send and receive on this interface.
    #[arg(short = 'e', value_name = "IFACE")]
    pub iface: Option<String>,

    /// Source address of probes.
    #[arg(short = 'S', value_name = "ADDR")]
    pub source: Option<IpAddr>,

    /// Next-hop MAC address, skipping ARP.
    #[arg(long = "router-mac", value_name = "MAC")]
    pub router_mac: Option<Mac>,

    /// Source port of probes.
    #[arg(short = 'g', long = "source-port", value_name = "PORT")]
    pub source_port: Option<u16>,

    /// IP time-to-live of probes.
    #[arg(long = "ttl", value_name = "N", default_value_t = 64)]
    pub ttl: u8,

    /// Show only open ports.
    #[arg(long = "open")]
    pub open: bool,

    /// Show the reason for each port's state.
    #[arg(long = "reason")]
    pub reason: bool,

    /// Treat every target as up: report hosts that never answered [-Pn].
    #[arg(long = "no-ping")]
    pub no_ping: bool,

    /// No progress display on stderr.
    #[arg(short = 'q')]
    pub quiet: bool,

    /// Print a progress line every TIME (5, 5s, 500ms, 2m) when stderr is
    /// not a terminal (on a terminal, a live status line is always shown).
    #[arg(long = "stats-every", value_name = "TIME", value_parser = parse_time)]
    pub stats_every: Option<Duration>,

    /// More output; repeat for even more.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,

    /// Debugging output, which implies -v; repeat (-dd) or give a level
    /// (-d2) for more. With -O the fingerprint is printed after every
    /// result, as with -vv.
    #[arg(short = 'd', action = ArgAction::Count)]
    pub debug: u8,

    /// The level of a glued -dN.
    #[arg(long = "debug-level", value_name = "N", hide = true)]
    pub debug_level: Option<u8>,

    /// nmap options given that scry does not have ([`unsupported`]).
    #[arg(long = "unsupported-nmap-option", hide = true, action = ArgAction::Append)]
    pub unsupported: Vec<String>,

    /// Never resolve hostnames.
    #[arg(short = 'n')]
    pub no_resolve: bool,

    /// Hostnames resolve to their IPv6 address first [-6]. IPv4 and IPv6
    /// addresses may be given together with or without it; each host is
    /// scanned and reported in its own family.
    #[arg(short = '6')]
    pub ipv6: bool,

    /// The most addresses one IPv6 prefix may hold (a /64 holds 2^64;
    /// default 16777216, a /104; at most 4294967296).
    #[arg(long = "max-targets", value_name = "N", default_value_t = scry_probe::targets::DEFAULT_MAX_PREFIX_HOSTS)]
    pub max_targets: u64,

    /// Normal output to FILE [-oN].
    #[arg(long = "output-normal", value_name = "FILE")]
    pub output_normal: Option<PathBuf>,

    /// JSON Lines to FILE, - for standard output [-oJ].
    #[arg(long = "output-json", value_name = "FILE")]
    pub output_json: Option<PathBuf>,

    /// Write every frame sent and received to FILE (pcap, for tcpdump -r and Wireshark).
    #[arg(long = "pcap", value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Once its sockets are open, scan as this unprivileged user, with no capabilities.
    #[arg(long = "user", value_name = "NAME", default_value = DEFAULT_USER)]
    pub user: String,

    /// Keep root's powers (or the binary's capabilities) while parsing replies: only to
    /// debug a problem that dropping them causes, such as a kernel that refuses setgroups.
    #[arg(long = "no-drop-privileges")]
    pub no_drop_privileges: bool,

    /// Continue the scan stopped with resume file FILE; takes no other option.
    #[arg(long = "resume", value_name = "FILE")]
    pub resume: Option<PathBuf>,

    /// Where a stopped scan writes its resume file (default scry.resume); also
    /// written every 10 s during the first pass, removed once the scan completes.
    #[arg(long = "resume-file", value_name = "FILE")]
    pub resume_file: Option<PathBuf>,

    /// Start with the Nth phase, counted from 1, SYN before UDP (set by --resume).
    #[arg(long = "resume-phase", value_name = "N", hide = true)]
    pub resume_phase: Option<u32>,

    /// Start that phase's first pass at this position of its walk (set by --resume).
    #[arg(long = "resume-position", value_name = "N", hide = true)]
    pub resume_position: Option<u64>,

    /// Build and count every probe but send none, and listen to nothing (as
    /// masscan's --offline): measures generation; needs no privilege.
    #[arg(long = "offline")]
    pub offline: bool,

    /// Append to output files instead of replacing them.
    #[arg(long = "append-output")]
    pub append_output: bool,

    /// Match the subject fingerprint in FILE (- for stdin) against the OS database and exit.
    #[arg(long = "os-match", value_name = "FILE")]
    pub os_match: Option<PathBuf>,

    /// OS fingerprint database file (repeatable); when given, only these are loaded.
    #[arg(long = "os-db", value_name = "PATH")]
    pub os_db: Vec<PathBuf>,

    /// Look for data files (nmap-os-db, nmap-services, nmap-payloads, nmap-service-probes) in DIR
    /// first, then $SCRY_DATADIR, the XDG data directories and nmap's.
    #[arg(long = "datadir", value_name = "DIR")]
    pub datadir: Option<PathBuf>,

    /// Print the version and the data files found, then exit.
    #[arg(short = 'V', long = "version")]
    pub version: bool,

    /// List OS guesses even when there is no perfect match.
    #[arg(long = "osscan-guess", alias = "fuzzy")]
    pub osscan_guess: bool,

    /// No OS guess from the SYN-ACKs of the port scan (given when -O is off).
    #[arg(long = "no-os-guess")]
    pub no_os_guess: bool,

    /// OS detection after the port scan [-O].
    #[arg(short = 'O')]
    pub os_detect: bool,

    /// Version detection on open (and UDP open|filtered) ports, as nmap [-sV].
    #[arg(long = "service-version")]
    pub service_version: bool,

    /// With -sV: try probes up to this rarity, 0-9 (default 7).
    #[arg(long = "version-intensity", value_name = "N", value_parser = clap::value_parser!(u8).range(0..=9))]
    pub version_intensity: Option<u8>,

    /// With -sV: intensity 2.
    #[arg(long = "version-light", conflicts_with_all = ["version_intensity", "version_all"])]
    pub version_light: bool,

    /// With -sV: intensity 9, every probe.
    #[arg(long = "version-all", conflicts_with = "version_intensity")]
    pub version_all: bool,

    /// With -sV: read the probes from FILE instead of nmap-service-probes on the data path.
    #[arg(long = "versiondb", value_name = "FILE")]
    pub versiondb: Option<PathBuf>,

    /// With -sV: probe the ports nmap-service-probes excludes too (nmap's 9100-9107).
    #[arg(long = "allports")]
    pub allports: bool,

    /// Connections open at once over all hosts: -sV's services (default
    /// 1000), -sT's connection attempts (default 4096); kept under the
    /// open-file limit.
    #[arg(long = "max-parallelism", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_parallelism: Option<u32>,

    /// With -sV: print each service's probes, reads and conclusion to standard error.
    #[arg(long = "version-trace")]
    pub version_trace: bool,

    /// With -sV: end a host's unfinished services (reported incomplete) TIME
    /// after its first service started; the port scan is not limited.
    #[arg(long = "host-timeout", value_name = "TIME", value_parser = parse_time)]
    pub host_timeout: Option<Duration>,

    /// Keep what each TCP service sends first (and its TLS certificate) in every output.
    #[arg(long = "banners")]
    pub banners: bool,

    /// With -O: fingerprint only hosts with an open and a closed TCP port.
    #[arg(long = "osscan-limit")]
    pub osscan_limit: bool,

    /// With -O: tries per host while no reference matches perfectly.
    #[arg(long = "max-os-tries", value_name = "N", default_value_t = 5)]
    pub max_os_tries: u32,

    /// nmap XML to FILE, - for standard output [-oX].
    #[arg(long = "output-xml", value_name = "FILE")]
    pub output_xml: Option<PathBuf>,

    /// nmap grepable output to FILE, - for standard output [-oG].
    #[arg(long = "output-grepable", value_name = "FILE")]
    pub output_grepable: Option<PathBuf>,

    /// XSL stylesheet the XML names, a path or URL (default: nmap's installed one).
    #[arg(long = "stylesheet", value_name = "PATH/URL", conflicts_with_all = ["webxml", "no_stylesheet"])]
    pub stylesheet: Option<String>,

    /// Name nmap.org's stylesheet in the XML, for reading it on other machines.
    #[arg(long = "webxml", conflicts_with = "no_stylesheet")]
    pub webxml: bool,

    /// Name no stylesheet in the XML.
    #[arg(long = "no-stylesheet")]
    pub no_stylesheet: bool,

    /// Normal, XML, grepable and JSON Lines output to BASE.nmap, BASE.xml,
    /// BASE.gnmap and BASE.json [-oA].
    #[arg(long = "output-all", value_name = "BASE")]
    pub output_all: Option<PathBuf>,

    /// History database: a file (SQLite) or postgres://USER@HOST/DB (default:
    /// $XDG_DATA_HOME/scry/history.db; root: /var/lib/scry/history.db).
    #[arg(long = "db", value_name = "PATH|URL", conflicts_with = "no_db")]
    pub db: Option<String>,

    /// Keep no history of this scan.
    #[arg(long = "no-db")]
    pub no_db: bool,

    /// A name every shard of one run shares, so the history shows them as one scan.
    #[arg(long = "run-id", value_name = "ID")]
    pub run_id: Option<String>,

    /// Host discovery only, no port scan [-sn].
    #[arg(long = "ping-scan")]
    pub ping_scan: bool,

    /// UDP scan, with protocol payloads for ports that answer only a valid request [-sU];
    /// with -sS (or as -sSU) both in one scan, T: ports by SYN and U: ports by UDP.
    #[arg(long = "udp-scan")]
    pub udp_scan: bool,

    /// UDP payloads in nmap-payloads format (default: nmap's file, else built-in ones).
    #[arg(long = "udp-payloads", value_name = "FILE")]
    pub udp_payloads: Option<PathBuf>,

    /// Discovery: ICMP echo request [-PE].
    #[arg(long = "echo-ping")]
    pub echo_ping: bool,

    /// Discovery: ICMP timestamp request [-PP].
    #[arg(long = "timestamp-ping")]
    pub timestamp_ping: bool,

    /// Discovery: ARP request, on a directly connected subnet [-PR].
    #[arg(long = "arp-ping")]
    pub arp_ping: bool,

    /// Discovery: TCP SYN to PORTS (default 80) [-PS[PORTS]].
    #[arg(long = "syn-ping", value_name = "PORTS", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub syn_ping: Option<String>,

    /// Discovery: TCP ACK to PORTS (default 80) [-PA[PORTS]].
    #[arg(long = "ack-ping", value_name = "PORTS", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub ack_ping: Option<String>,

    /// Discovery: UDP to PORTS (default 40125) [-PU[PORTS]].
    #[arg(long = "udp-ping", value_name = "PORTS", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    pub udp_ping: Option<String>,

    /// On a directly connected subnet, use the chosen IP probes instead of ARP.
    #[arg(long = "disable-arp-ping", alias = "send-ip")]
    pub disable_arp_ping: bool,
}

/// `--scanflags` as nmap takes it ([`scry_probe::tcpscan::parse_scanflags`]).
fn parse_scanflags(text: &str) -> Result<TcpFlags, String> {
    scry_probe::tcpscan::parse_scanflags(text).map_err(|e| e.to_string())
}

impl Args {
    /// The TCP scan asked for (`None`: no TCP scan type given), with
    /// `--scanflags`. As nmap: with no scan type at all, `--scanflags` is a
    /// SYN scan with those flags; beside `-sU` alone or `-sn` it has no
    /// TCP scan to change.
    ///
    /// # Errors
    /// More than one TCP scan type, which nmap refuses too.
    pub fn tcp_scan(&self) -> Result<Option<TcpScanSpec>, String> {
        let given = [
            (self.syn_scan, TcpScan::Syn),
            (self.fin_scan, TcpScan::Fin),
            (self.null_scan, TcpScan::Null),
            (self.xmas_scan, TcpScan::Xmas),
            (self.ack_scan, TcpScan::Ack),
            (self.window_scan, TcpScan::Window),
            (self.maimon_scan, TcpScan::Maimon),
        ];
        let scans: Vec<TcpScan> = given.iter().filter(|(on, _)| *on).map(|(_, scan)| *scan).collect();
        match scans[..] {
            [] if self.scanflags.is_none() || self.udp_scan || self.ping_scan => Ok(None),
            [] => Ok(Some(TcpScanSpec { scan: TcpScan::Syn, scanflags: self.scanflags })),
            [scan] => Ok(Some(TcpScanSpec { scan, scanflags: self.scanflags })),
            _ => {
                let named: Vec<&str> = scans.iter().map(|s| s.option()).collect();
                Err(format!(
                    "you specified more than one type of TCP scan ({}); please choose only one of -sS, \
                     -sT, -sF, -sN, -sX, -sM, -sA and -sW, as nmap asks (-sU combines with any of them)",
                    named.join(" ")
                ))
            }
        }
    }

    /// Parses nmap-style arguments (see [`nmap_aliases`]), then folds the
    /// debugging options into `debug` and `verbose` as nmap does: each -d
    /// also counts as a -v, and -dN sets both levels to at least N (nmap
    /// sets them to N where -dN stands; scry does not track the order).
    pub fn parse_nmap(argv: impl IntoIterator<Item = OsString>) -> Args {
        Args::try_parse_nmap(argv).unwrap_or_else(|e| e.exit())
    }

    /// [`Args::parse_nmap`], returning clap's error; a timing template (`-T`)
    /// fills in the options not given explicitly ([`crate::timing::apply`]).
    ///
    /// # Errors
    /// What clap rejects, formatted as clap reports it.
    pub fn try_parse_nmap(argv: impl IntoIterator<Item = OsString>) -> Result<Args, clap::Error> {
        let mut command = Args::command();
        let matches = command.try_get_matches_from_mut(nmap_aliases(argv))?;
        let mut args = Args::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
        crate::timing::apply(&mut args, |id| matches.value_source(id) == Some(ValueSource::CommandLine));
        Ok(args.fold_debugging())
    }

    fn fold_debugging(mut self) -> Args {
        if self.fast && self.top_ports.is_none() {
            self.top_ports = Some(FAST_TOP_PORTS);
        }
        let level = self.debug_level.take().unwrap_or(0);
        self.verbose = self.verbose.saturating_add(self.debug).max(level);
        self.debug = self.debug.max(level);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Args {
        let argv = std::iter::once("scry").chain(line.split_whitespace()).map(OsString::from);
        Args::try_parse_nmap(argv).unwrap()
    }

    #[test]
    fn nmap_synonyms_and_unsupported_options() {
        let a = parse("-P0 -F 198.18.0.10");
        assert!(a.no_ping);
        assert_eq!(a.top_ports, Some(100));
        assert_eq!(parse("-F --top-ports 5 198.18.0.10").top_ports, Some(5));
        let a = parse("-sY -A -oS x -sS 198.18.0.10");
        assert_eq!(a.unsupported, ["-sY", "-A", "-oS"]);
        assert!(a.syn_scan);
        // Options scry has are left alone.
        for line in ["-sS -sU -Pn -PS22 -oN out -p- 198.18.0.10", "-sSU -oJ - 198.18.0.10", "-sn 198.18.0.10"]
        {
            assert_eq!(parse(line).unsupported, Vec::<String>::new(), "{line}");
        }
        // Timing templates are scry's own now (crate::timing).
        assert_eq!(unsupported("-T4"), None);
    }

    #[test]
    fn nmap_spellings_parse() {
        let a = parse("-sS -p- -iL list.txt -oN out.txt -oJ - -Pn -n -vv -e eth0 -g 53 198.18.0.0/24");
        assert!(a.syn_scan && a.no_ping && a.no_resolve);
        assert_eq!(a.ports.as_deref(), Some("-"));
        assert_eq!(a.input_list, Some(PathBuf::from("list.txt")));
        assert_eq!(a.output_normal, Some(PathBuf::from("out.txt")));
        assert_eq!(a.output_json, Some(PathBuf::from("-")));
        assert_eq!((a.verbose, a.iface.as_deref(), a.source_port), (2, Some("eth0"), Some(53)));
        assert_eq!(a.targets, vec!["198.18.0.0/24"]);
    }

    #[test]
    fn glued_values_and_defaults() {
        let a = parse("-oNscan.txt -p22,80 198.18.0.1");
        assert_eq!(a.output_normal, Some(PathBuf::from("scan.txt")));
        assert_eq!(a.ports.as_deref(), Some("22,80"));
        assert_eq!((a.rate, a.retries, a.wait), (None, DEFAULT_RETRIES, DEFAULT_WAIT));
        assert_eq!((a.min_rate, a.max_rate), (None, None));
    }

    #[test]
    fn times_as_nmap_spells_them() {
        assert_eq!(parse("--stats-every 5 198.18.0.1").stats_every, Some(Duration::from_secs(5)));
        assert_eq!(parse_time("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_time("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_time("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_time("0"), Err("\"0\" is not a time above zero (e.g. 5, 5s, 500ms, 2m)".into()));
        assert_eq!(parse_time("5d"), Err("unknown unit \"d\" (use ms, s, m or h)".into()));
    }

    #[test]
    fn discovery_options_take_glued_lists_and_never_the_next_argument() {
        let a = parse("-sn -PE -PP -PR -PS22,443 -PA -PU 198.18.0.0/24");
        assert!(a.ping_scan && a.echo_ping && a.timestamp_ping && a.arp_ping);
        assert_eq!(a.syn_ping.as_deref(), Some("22,443"));
        assert_eq!(a.ack_ping.as_deref(), Some(""));
        assert_eq!(a.udp_ping.as_deref(), Some(""));
        assert_eq!(a.targets, vec!["198.18.0.0/24"]);
        let b = parse("-sU --udp-payloads my.payloads -p U:53 198.18.0.1");
        assert!(b.udp_scan && b.syn_ping.is_none());
        for both in ["-sS -sU", "-sSU", "-sUS"] {
            let c = parse(&format!("{both} -p T:22,U:53 198.18.0.1"));
            assert!(c.syn_scan && c.udp_scan, "{both}");
        }
        for connect in ["-sT -sV", "-sTV", "-sVT"] {
            let c = parse(&format!("{connect} -p 22 198.18.0.1"));
            assert!(c.connect_scan && c.service_version && !c.syn_scan, "{connect}");
            assert_eq!(c.unsupported, Vec::<String>::new());
        }
        assert_eq!(b.udp_payloads, Some(PathBuf::from("my.payloads")));
    }

    /// (debugging, verbose) as nmap 7.93 writes them in its XML for the
    /// same options.
    #[test]
    fn debugging_counts_or_takes_a_glued_level_and_implies_verbose() {
        let levels = |line: &str| {
            let a = parse(&format!("{line} 198.18.0.1"));
            (a.debug, a.verbose)
        };
        assert_eq!(levels(""), (0, 0));
        assert_eq!(levels("-d"), (1, 1));
        assert_eq!(levels("-d3"), (3, 3));
        assert_eq!(levels("-dd -v"), (2, 3));
        assert_eq!(levels("-vv"), (0, 2));
        assert_eq!(levels("-d0 -dv"), (1, 2));
    }

    #[test]
    fn stealth_and_firewall_scan_types_parse_alone_glued_and_with_scanflags() {
        let spec = |line: &str| parse(&format!("{line} 198.18.0.1")).tcp_scan();
        let of = |scan, flags: Option<u8>| Ok(Some(TcpScanSpec { scan, scanflags: flags.map(TcpFlags) }));
        assert_eq!(spec(""), Ok(None));
        assert_eq!(spec("-sS"), of(TcpScan::Syn, None));
        for (option, scan) in [
            ("-sF", TcpScan::Fin),
            ("-sN", TcpScan::Null),
            ("-sX", TcpScan::Xmas),
            ("-sA", TcpScan::Ack),
            ("-sW", TcpScan::Window),
            ("-sM", TcpScan::Maimon),
        ] {
            assert_eq!(spec(option), of(scan, None), "{option}");
            assert_eq!(spec(&format!("{option} {option}")), of(scan, None), "{option} twice");
            let glued = parse(&format!("{option}UV 198.18.0.1"));
            assert!(glued.udp_scan && glued.service_version, "{option}UV");
            assert_eq!(glued.tcp_scan(), of(scan, None), "{option}UV");
        }
        assert_eq!(spec("--scanflags SYNFIN"), of(TcpScan::Syn, Some(0x03)));
        // As nmap: no TCP scan for the flags to change.
        assert_eq!(spec("--scanflags SYNFIN -sU"), Ok(None));
        assert_eq!(spec("--scanflags SYNFIN -sn"), Ok(None));
        assert_eq!(spec("--scanflags SYNFIN -sX -sU"), of(TcpScan::Xmas, Some(0x03)));
        assert_eq!(spec("-sA --scanflags 0x12"), of(TcpScan::Ack, Some(0x12)));
        assert_eq!(spec("--scanflags URGPSHFIN -sF"), of(TcpScan::Fin, Some(0x29)));
        let two = spec("-sF -sA").unwrap_err();
        assert!(two.starts_with("you specified more than one type of TCP scan (-sF -sA)"), "{two}");
        assert!(spec("-sSX").unwrap_err().contains("(-sS -sX)"));
        // -sT glues with them like any scan letter.
        let connect = parse("-sTU 198.18.0.1");
        assert!(connect.connect_scan && connect.udp_scan && connect.unsupported.is_empty());
    }

    #[test]
    fn targets_after_double_dash_are_not_rewritten() {
        let a = parse("-p 80 -- -sS");
        assert_eq!(a.targets, vec!["-sS"]);
    }
}
