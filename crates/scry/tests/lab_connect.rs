//! The connect scan (`-sT`) and what scry does without privileges, against
//! nmap in the same run: scry as uid 65534 (nobody, no capability at all,
//! via `setpriv` inside the lab's scanner namespace) reports every port
//! with the state and reason `nmap -sT` run the same way reports, and the
//! states root's `-sS` finds; without a scan type it falls back to `-sT`
//! and says so; raw-only options are refused by name before anything is
//! sent; progress lines count the connections.
//!
//! Each test copies the built binary into its own directory under Cargo's
//! test scratch directory, readable and executable by everyone, so that
//! uid 65534 can run it wherever the tree lives.

mod common;

use common::{Sniffer, SCRY};
use scry_lab::{lab_or_skip, Lab, RejectWith, TargetSpec};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

/// `setpriv` arguments that become uid/gid 65534 (nobody) with no groups and no capabilities.
const NOBODY: [&str; 4] = ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all"];
const OPEN: &[u16] = &[22, 80, 443];
/// Dropped by an nft rule on the target: no answer at all.
const DROPPED: &[u16] = &[135, 139];
/// Answered by the target's firewall with an ICMP error instead.
const REJECTED: [(u16, RejectWith); 4] = [
    (25, RejectWith::AdminProhibited),
    (113, RejectWith::HostUnreachable),
    (111, RejectWith::NoRoute),
    (53, RejectWith::PortUnreachable),
];
const PORTS: &str = "1-200,443";
const T0: &str = "198.18.0.10";

/// Port -> (state, reason) over every scanned port.
type Table = BTreeMap<u16, (String, String)>;

/// A world-readable copy of scry in a fresh directory; removed with the value.
struct Copy {
    dir: PathBuf,
    binary: PathBuf,
}

impl Copy {
    fn new(name: &str) -> Copy {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("connect-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let binary = dir.join("scry");
        std::fs::copy(SCRY, &binary).unwrap();
        std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
        Copy { dir, binary }
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The lab: t0 with listeners, dropped and rejected ports; t1 drops everything.
fn lab() -> Option<Lab> {
    let mut t0 = TargetSpec::new().tcp_listen(OPEN);
    for (port, kind) in REJECTED {
        t0 = t0.reject_tcp_port(port, kind);
    }
    let lab = scry_lab::require_lab(Lab::builder().target(t0).target(TargetSpec::new().drop_all()).build())?;
    let ports: Vec<String> = DROPPED.iter().map(u16::to_string).collect();
    let script = format!(
        "table inet connect_drop {{\n\tchain input {{\n\t\ttype filter hook input priority filter - 1; \
         policy accept;\n\t\ttcp dport {{ {} }} drop\n\t}}\n}}\n",
        ports.join(", ")
    );
    common::nft(&lab.targets()[0], &script);
    // Every rejected connection gets its ICMP error, however many runs came before.
    let out = lab.targets()[0].command("sysctl").args(["-qw", "net.ipv4.icmp_ratelimit=0"]).output().unwrap();
    assert!(out.status.success(), "sysctl: {}", text(&out.stderr));
    Some(lab)
}

/// A home nobody can write, for its history (as a real user has one;
/// root's, which setpriv leaves in HOME, is not nobody's to write).
fn nobody_home() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let home = std::env::temp_dir().join(format!("scry-nobody-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
    home
}

/// Runs `program args` as nobody in the scanner namespace.
fn as_nobody(lab: &Lab, program: &Path, args: &[&str]) -> Output {
    let mut cmd = lab.scanner().command("setpriv");
    cmd.args(NOBODY).arg(program).args(args).stdin(Stdio::null()).env("HOME", nobody_home());
    cmd.output().expect("running setpriv")
}

/// Runs `program args` as root in the scanner namespace.
fn as_root(lab: &Lab, program: &str, args: &[&str]) -> Output {
    lab.scanner().command(program).args(args).stdin(Stdio::null()).output().expect("running as root")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeded(what: &str, out: &Output) -> String {
    assert!(out.status.success(), "{what}: {}: {}", out.status, text(&out.stderr));
    text(&out.stdout)
}

/// Every port of every host of an nmap XML document (nmap's or scry's),
/// listed ones and those counted in `<extraports>`, with state and reason;
/// and each host's up reason.
fn xml_tables(xml: &str) -> (BTreeMap<String, Table>, BTreeMap<String, String>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut tables, mut up) = (BTreeMap::<String, Table>::new(), BTreeMap::new());
    let (mut host, mut port, mut extra_state) = (String::new(), 0u16, String::new());
    let mut in_host = false;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let element = match &event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => e.clone(),
            Event::End(e) if e.name().as_ref() == b"host" => {
                in_host = false;
                continue;
            }
            _ => continue,
        };
        let attrs: BTreeMap<String, String> = element
            .attributes()
            .map(|a| {
                let a = a.unwrap();
                (text(a.key.as_ref()), a.unescape_value().unwrap().into_owned())
            })
            .collect();
        match element.name().as_ref() {
            b"host" => in_host = true,
            b"status" if in_host => {
                up.insert(String::new(), attrs["reason"].clone());
            }
            b"address" if in_host && attrs["addrtype"] == "ipv4" => {
                host = attrs["addr"].clone();
                if let Some(reason) = up.remove("") {
                    up.insert(host.clone(), reason);
                }
            }
            b"port" => port = attrs["portid"].parse().unwrap(),
            b"state" => {
                let entry = (attrs["state"].clone(), attrs["reason"].clone());
                tables.entry(host.clone()).or_default().insert(port, entry);
            }
            b"extraports" => extra_state = attrs["state"].clone(),
            b"extrareasons" => {
                for range in attrs["ports"].split(',') {
                    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                    for p in lo.parse::<u16>().unwrap()..=hi.parse().unwrap() {
                        let entry = (extra_state.clone(), attrs["reason"].clone());
                        tables.entry(host.clone()).or_default().insert(p, entry);
                    }
                }
            }
            _ => {}
        }
    }
    (tables, up)
}

/// t0's table as Linux's connect() and nmap see it: ICMP admin- and
/// host-prohibited both reach connect() as EHOSTUNREACH, port unreachable
/// as ECONNREFUSED.
fn t0_connect_table() -> Table {
    let scanned: Vec<u16> = (1..=200).chain([443]).collect();
    let mut table = Table::new();
    for port in scanned {
        let (state, reason) = match port {
            p if OPEN.contains(&p) => ("open", "syn-ack"),
            p if DROPPED.contains(&p) => ("filtered", "no-response"),
            25 | 113 => ("filtered", "host-unreach"),
            111 => ("filtered", "net-unreach"),
            _ => ("closed", "conn-refused"),
        };
        table.insert(port, (state.to_owned(), reason.to_owned()));
    }
    table
}

#[test]
fn unprivileged_connect_scan_equals_nmap_and_root_syn_scan() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("equal");
    let args = ["-Pn", "-n", "--reason", "-p", PORTS, "-oX", "-", T0];
    let scry_t = as_nobody(&lab, &copy.binary, &[&["-sT"][..], &args].concat());
    let nmap_t = as_nobody(&lab, Path::new("nmap"), &[&["-sT"][..], &args].concat());
    let scry_s = as_root(&lab, SCRY, &[&["-sS", "--no-os-guess"][..], &args].concat());
    // As root -sT needs no raw socket either, and finds the same.
    let root_t = as_root(&lab, SCRY, &[&["-sT"][..], &args].concat());
    let root_t = succeeded("scry -sT as root", &root_t);
    let (scry_t, nmap_t, scry_s) =
        (succeeded("scry -sT", &scry_t), succeeded("nmap -sT", &nmap_t), succeeded("scry -sS", &scry_s));
    assert!(scry_t.contains(r#"<scaninfo type="connect" protocol="tcp" numservices="201""#), "{scry_t}");
    let (scry_t, _) = xml_tables(&scry_t);
    let (nmap_t, _) = xml_tables(&nmap_t);
    let (scry_s, _) = xml_tables(&scry_s);
    let expected = t0_connect_table();
    assert_eq!(scry_t[T0], expected, "scry -sT as nobody");
    assert_eq!(nmap_t[T0], expected, "nmap -sT as nobody, the same run");
    assert_eq!(xml_tables(&root_t).0[T0], expected, "scry -sT as root");
    // Root's SYN scan sees the same states, with the raw reasons, except
    // where the kernel folds an ICMP error into a refusal: port
    // unreachable is filtered to -sS and closed (conn-refused) to connect().
    for (port, (state, reason)) in &scry_s[T0] {
        let (t_state, t_reason) = &expected[port];
        let want = match (t_state.as_str(), t_reason.as_str()) {
            _ if *port == 53 => ("filtered", "port-unreach"),
            _ if *port == 25 => ("filtered", "admin-prohibited"),
            (s, "conn-refused") => (s, "reset"),
            (s, r) => (s, r),
        };
        assert_eq!((state.as_str(), reason.as_str()), want, "port {port} of -sS");
    }
    assert_eq!(scry_s[T0].len(), expected.len());
}

#[test]
fn without_privileges_and_a_scan_type_scry_falls_back_to_connect_and_pings_by_connect() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("fallback");
    let targets = "198.18.0.10-11";
    let args = ["-n", "--reason", "-p", PORTS, "-oX", "-", targets];
    let scry = as_nobody(&lab, &copy.binary, &args);
    let nmap = as_nobody(&lab, Path::new("nmap"), &args);
    let stderr = text(&scry.stderr);
    let (scry, nmap) = (succeeded("scry", &scry), succeeded("nmap", &nmap));
    assert_eq!(
        stderr,
        "scry: no CAP_NET_RAW: scanning with -sT (TCP connect), as nmap does without privileges\n"
    );
    assert!(scry.contains(r#"<scaninfo type="connect" protocol="tcp""#), "{scry}");
    assert!(nmap.contains(r#"<scaninfo type="connect" protocol="tcp""#), "{nmap}");
    let ((scry_tables, scry_up), (nmap_tables, nmap_up)) = (xml_tables(&scry), xml_tables(&nmap));
    // t1 drops everything: no connection to 80 or 443 is answered, so it is down and not scanned.
    let up: BTreeMap<String, String> = [(T0.to_owned(), "syn-ack".to_owned())].into();
    assert_eq!(scry_up, up, "{scry}");
    assert_eq!(nmap_up, up, "{nmap}");
    assert_eq!(scry_tables.keys().collect::<Vec<_>>(), [T0]);
    assert_eq!(scry_tables[T0], t0_connect_table());
    assert_eq!(scry_tables, nmap_tables);
}

/// What needs raw sockets is refused without privileges, naming the
/// option, with status 1 (as nmap's "requires root privileges"), and
/// nothing reaches the target.
#[test]
fn raw_only_options_are_refused_without_privileges_before_anything_is_sent() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("refused");
    let pcap = copy.dir.join("never.pcap");
    let pcap = pcap.to_str().unwrap();
    let cases: [(&[&str], &str, &str); 6] = [
        (&["-O"], "-O", "OS detection"),
        (&["-sS"], "-sS", "SYN scan"),
        (&["-sU"], "-sU", "UDP scan"),
        (&["-S", "198.18.0.1"], "-S", "a source address for raw probes"),
        (&["-g", "53"], "-g", "a source port for raw probes"),
        (&["--pcap", pcap], "--pcap", "a capture of the frames sent and received"),
    ];
    for (extra, option, what) in cases {
        let watch = Sniffer::start(&lab.targets()[0], "tcp or udp or icmp");
        let out = as_nobody(&lab, &copy.binary, &[extra, &["-p", "22,80", T0]].concat());
        let seen = watch.finish_count();
        assert_eq!(out.status.code(), Some(1), "{option}: {}", text(&out.stderr));
        let message = format!(
            "scry: {option} ({what}) needs raw sockets: run scry as root, or give the binary CAP_NET_RAW \
             (setcap cap_net_raw,cap_net_admin+ep); without privileges scry scans with -sT (TCP connect), as nmap\n"
        );
        assert_eq!(text(&out.stderr), message);
        assert!(out.stdout.is_empty(), "{option}: {}", text(&out.stdout));
        assert_eq!(seen, 0, "{option}: the target saw packets");
    }
    assert!(!Path::new(pcap).exists());
}

/// `--stats-every` during a connect scan: `Stats:` lines whose count of
/// connections grows, then the final line with every attempt counted.
#[test]
fn progress_lines_count_connections() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("progress");
    let args = ["-sT", "-Pn", "-v", "-p", "1-3000", "--rate", "1000", "--stats-every", "200ms", T0];
    let out = as_nobody(&lab, &copy.binary, &args);
    let normal = succeeded("scry -sT", &out);
    let stderr = text(&out.stderr);
    let stats: Vec<&str> = stderr.lines().filter(|l| l.starts_with("Stats: ")).collect();
    // Three seconds of connections at 1000 a second, a line every 200 ms.
    assert!(stats.len() >= 5, "{stderr}");
    let counts: Vec<u64> = stats[..stats.len() - 1]
        .iter()
        .map(|line| {
            let (_, rest) = line.split_once("% done, ").unwrap_or_else(|| panic!("{line}"));
            rest.split_once("/3000 probes").unwrap_or_else(|| panic!("{line}")).0.parse().unwrap()
        })
        .collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1] || w[1] == 3000), "not increasing: {counts:?}");
    assert!(counts[0] < 3000 && counts.len() >= 4, "{counts:?}");
    // The dropped ports get one retry each, then nmap's rule stops (on a
    // loaded machine a slow answer may cost another attempt or two).
    let last = stats.last().unwrap();
    let (_, tail) = last.split_once(" elapsed; finished, ").unwrap_or_else(|| panic!("{last}"));
    let (sent, tail) = tail.split_once(" probes sent in all ").unwrap();
    let sent: usize = sent.parse().unwrap();
    assert!(sent >= 3000 + DROPPED.len() && sent < 3100, "{last}");
    assert!(tail.starts_with("(3000 in the first pass), "), "{last}");
    assert!(last.ends_with(" pps average, 3 open found"), "{last}");
    // -v's closing counts: connections, not raw packets; no capture to speak of.
    let closing = normal.lines().last().unwrap();
    let answered = 3000 - DROPPED.len();
    assert_eq!(
        closing,
        format!("           Connections tried: {sent} | Answered: {answered} valid, 0 duplicates")
    );
}

/// t0's answer to a connection to `port`, as [`t0_connect_table`] gives
/// it for any port; `None` for the dropped ones, which never answer.
fn t0_answer(port: u16) -> Option<(&'static str, &'static str)> {
    Some(match port {
        p if OPEN.contains(&p) => ("open", "syn-ack"),
        p if DROPPED.contains(&p) => return None,
        25 | 113 => ("filtered", "host-unreach"),
        111 => ("filtered", "net-unreach"),
        _ => ("closed", "conn-refused"),
    })
}

/// Ctrl-C during an unprivileged -sT: exit 0, every answer so far in the
/// output, a resume file; `scry --resume` then connects to exactly the
/// ports the first run had not reached, as after a stopped -sS.
#[test]
fn sigint_flushes_a_connect_scan_and_resume_finishes_it() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("interrupt");
    let writable = copy.dir.join("out");
    std::fs::create_dir_all(&writable).unwrap();
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o777)).unwrap();
    let resume = writable.join("scan.resume");
    let resume = resume.to_str().unwrap();
    let args =
        ["-sT", "-Pn", "-p-", "--rate", "5000", "--seed", "77", "--resume-file", resume, "-oJ", "-", T0];
    let mut child = lab
        .scanner()
        .command("setpriv")
        .args(NOBODY)
        .arg(&copy.binary)
        .args(args)
        .env("HOME", nobody_home())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = common::read_answers(&mut stdout, 50);
    // `ip netns exec` and setpriv exec in turn: the pid is scry's.
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    std::io::Read::read_to_string(&mut stdout, &mut seen).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    let first = common::Scan::from_output(status, seen.as_bytes(), stderr.as_bytes());
    assert!(first.status.success(), "{}: {}", first.status, first.stderr);
    first.check_stream();
    assert_eq!(first.stats()["interrupted"], true);
    assert!(first.stderr.contains(&format!("scry: stopped; continue with: scry --resume {resume}")));
    let sent = first.stat("sent");
    assert!(sent < 60_000, "not cut short: {}", first.stats());
    let resume_text = std::fs::read_to_string(resume).unwrap();
    assert!(resume_text.contains("\nphase = 1\nposition = "), "{resume_text}");

    let second = as_nobody(&lab, &copy.binary, &["--resume", resume]);
    let second_out = succeeded("scry --resume", &second);
    let second = common::Scan::from_output(second.status, second_out.as_bytes(), &second.stderr);
    second.check_stream();
    // Each port answered in exactly one of the runs, as t0 answers it.
    let (a, b) = (first.ports(), second.ports());
    let both: Vec<_> = a.keys().filter(|k| b.contains_key(k)).collect();
    assert!(both.is_empty(), "connected to twice: {both:?}");
    let all: BTreeMap<u16, (String, String)> =
        a.into_iter().chain(b).map(|((_, port), p)| (port, (p.state, p.reason))).collect();
    let expected: BTreeMap<u16, (String, String)> =
        (1..=u16::MAX).filter_map(|p| t0_answer(p).map(|(s, r)| (p, (s.to_owned(), r.to_owned())))).collect();
    assert_eq!(all.len(), expected.len());
    assert!(all == expected, "the two runs differ from t0's ports");
    assert!(!Path::new(resume).exists(), "a completed scan removes its resume file");
}

/// -sV after an unprivileged -sT: the open ports get nmap's version
/// probes (the lab's listeners accept and close at once: `tcpwrapped`,
/// as nmap -sT -sV says in the same run).
#[test]
fn version_detection_after_a_connect_scan() {
    let Some(lab) = lab() else { return };
    if !common::services::nmap_present() {
        return;
    }
    let copy = Copy::new("version");
    let datadir = common::services::nmap_datadir("connect-sv");
    let args = ["-sT", "-sV", "-Pn", "-n", "-p", "22,80,81", "-oX", "-", T0];
    let scry = as_nobody(&lab, &copy.binary, &args);
    let nmap_args = [&["--datadir", datadir.to_str().unwrap()][..], &args].concat();
    let nmap = as_nobody(&lab, Path::new("nmap"), &nmap_args);
    let (scry, nmap) = (succeeded("scry -sT -sV", &scry), succeeded("nmap -sT -sV", &nmap));
    let _ = std::fs::remove_dir_all(&datadir);
    let (scry, nmap) = (common::services::ports(&scry), common::services::ports(&nmap));
    let name = |ports: &BTreeMap<(String, u16), common::services::ServiceFields>, port: u16| {
        let fields = &ports[&("tcp".to_owned(), port)];
        (fields.state.clone(), fields.attributes.get("name").cloned().unwrap_or_default())
    };
    for port in [22, 80] {
        assert_eq!(name(&scry, port), ("open".to_owned(), "tcpwrapped".to_owned()), "port {port}");
        assert_eq!(name(&scry, port), name(&nmap, port), "port {port}");
    }
    assert_eq!(name(&scry, 81).0, "closed");
}

/// As root, -sT combines as -sS does: with -sU in one scan (one report,
/// TCP by connect(), UDP by raw probes; XML names both scan types) and
/// with -O, which fingerprints from the open and closed ports -sT found.
#[test]
fn as_root_connect_scan_combines_with_udp_and_os_detection() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN).udp_listen(&[53])));
    if !common::nmap_db_present() {
        return;
    }
    let xml = std::env::temp_dir().join(format!("scry-connect-{}.xml", std::process::id()));
    let out = common::scan(
        lab.scanner(),
        &["-sT", "-sU", "-O", "-p", "T:22,80,81,U:53,54", "-oX", xml.to_str().unwrap(), T0],
    );
    let text = std::fs::read_to_string(&xml).unwrap();
    let _ = std::fs::remove_file(&xml);
    assert!(text.contains(r#"<scaninfo type="connect" protocol="tcp" numservices="3" services="22,80-81"/>"#));
    assert!(text.contains(r#"<scaninfo type="udp" protocol="udp" numservices="2" services="53-54"/>"#));
    let ports: BTreeMap<(u64, String), (String, String)> = out
        .records_of("port")
        .map(|r| {
            let key = (r["port"].as_u64().unwrap(), r["proto"].as_str().unwrap().to_owned());
            (key, (r["state"].as_str().unwrap().to_owned(), r["reason"].as_str().unwrap().to_owned()))
        })
        .collect();
    let pair = |s: &str, r: &str| (s.to_owned(), r.to_owned());
    let expected: BTreeMap<(u64, String), (String, String)> = [
        ((22, "tcp".to_owned()), pair("open", "syn-ack")),
        ((80, "tcp".to_owned()), pair("open", "syn-ack")),
        ((81, "tcp".to_owned()), pair("closed", "conn-refused")),
        ((53, "udp".to_owned()), pair("open", "udp-response")),
        ((54, "udp".to_owned()), pair("closed", "port-unreach")),
    ]
    .into();
    assert_eq!(ports, expected, "{}", out.stdout);
    let os = out.records_of("os").next().unwrap_or_else(|| panic!("no -O result: {}", out.stdout));
    assert_eq!(os["ip"], T0);
    assert!(text.contains(r#"<portused state="open" proto="tcp" portid="22"/>"#), "{text}");
    assert!(text.contains(r#"<portused state="closed" proto="tcp" portid="81"/>"#), "{text}");
}

/// `-sn` without privileges: connections to 80 and 443 find the hosts up,
/// as nmap's unprivileged ping scan; `-PE` needs raw sockets, so scry warns
/// and connects to port 80 instead, as nmap does.
#[test]
fn unprivileged_ping_scan_connects_as_nmap() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("ping");
    let targets = "198.18.0.10-11";
    let up: BTreeMap<String, String> = [(T0.to_owned(), "syn-ack".to_owned())].into();
    for extra in [&[][..], &["-PE"][..]] {
        let args = [extra, &["-sn", "-n", "-oX", "-", targets][..]].concat();
        let scry = as_nobody(&lab, &copy.binary, &args);
        let nmap = as_nobody(&lab, Path::new("nmap"), &args);
        let stderr = text(&scry.stderr);
        let (scry, nmap) = (succeeded("scry -sn", &scry), succeeded("nmap -sn", &nmap));
        assert_eq!(xml_tables(&scry).1, up, "scry {extra:?}: {scry}");
        assert_eq!(xml_tables(&nmap).1, up, "nmap {extra:?}: {nmap}");
        let warning = "scry: warning: not root: -PE needs raw sockets; host discovery connects to TCP ports \
                       instead, as nmap\n";
        assert_eq!(stderr, if extra.is_empty() { "" } else { warning });
    }
}

/// Every output of an unprivileged -sT, as for -sS: `-oA` writes all four;
/// the XML is valid against nmap.dtd and ndiff finds no difference from
/// nmap -sT's of the same run but the header; the grepable port list is nmap's.
#[test]
fn every_output_of_a_connect_scan_matches_nmaps() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("outputs");
    let dir = copy.dir.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let base = dir.join("scry");
    let (nmap_xml, nmap_gnmap) = (dir.join("nmap.xml"), dir.join("nmap.gnmap"));
    let args = ["-sT", "-Pn", "-n", "-p", PORTS, T0];
    let scry = as_nobody(&lab, &copy.binary, &[&args[..], &["-oA", base.to_str().unwrap()]].concat());
    succeeded("scry -sT -oA", &scry);
    let files = ["-oX", nmap_xml.to_str().unwrap(), "-oG", nmap_gnmap.to_str().unwrap()];
    let nmap = as_nobody(&lab, Path::new("nmap"), &[&args[..], &files].concat());
    succeeded("nmap -sT", &nmap);
    let read = |ext: &str| std::fs::read_to_string(dir.join(format!("scry.{ext}"))).unwrap();
    let (xml, gnmap, json) = (read("xml"), read("gnmap"), read("json"));
    assert!(read("nmap").contains("\n22/tcp  open     ssh\n"), "{}", read("nmap"));
    assert!(json.lines().next().unwrap().starts_with(r#"{"args":"#), "{json}");

    let xmllint = std::process::Command::new("xmllint")
        .args(["--noout", "--dtdvalid", "/usr/share/nmap/nmap.dtd"])
        .arg(dir.join("scry.xml"))
        .output()
        .expect("xmllint (libxml2-utils)");
    assert!(xmllint.status.success() && xmllint.stderr.is_empty(), "{}", text(&xmllint.stderr));
    let ndiff =
        std::process::Command::new("ndiff").arg(&nmap_xml).arg(dir.join("scry.xml")).output().expect("ndiff");
    let diff = text(&ndiff.stdout);
    assert_eq!(ndiff.status.code(), Some(0), "{diff}\n{xml}");
    let lines: Vec<&str> = diff.lines().collect();
    assert!(lines[0].starts_with("-Nmap 7.") && lines[1].starts_with("+Nmap 0.1.0 "), "{diff}");
    assert!(lines[2..].iter().all(|l| l.is_empty()), "{diff}");

    let ports_line = |text: &str| -> String {
        let line = text.lines().find(|l| l.contains("\tPorts: ")).unwrap_or_else(|| panic!("{text}"));
        line.split('\t').find(|f| f.starts_with("Ports: ")).unwrap().to_owned()
    };
    let nmap_gnmap = std::fs::read_to_string(&nmap_gnmap).unwrap();
    assert_eq!(ports_line(&gnmap), ports_line(&nmap_gnmap));
}

/// Regression: with the kernel's only ephemeral port equal to the port
/// probed, a connection to 127.0.0.1 connects to itself (a simultaneous
/// open) and succeeded as if a service listened. nmap takes it for no
/// answer, retries, and reports the port filtered; so does scry.
#[test]
fn a_connection_to_itself_is_no_open_port() {
    let lab = lab_or_skip!(Lab::builder());
    let range = lab
        .scanner()
        .command("sysctl")
        .args(["-qw", "net.ipv4.ip_local_port_range=40000 40000"])
        .output()
        .unwrap();
    assert!(range.status.success(), "{}", text(&range.stderr));
    let copy = Copy::new("self");
    let args = ["-sT", "-Pn", "-n", "--reason", "-p", "40000", "-oX", "-", "127.0.0.1"];
    let scry = as_nobody(&lab, &copy.binary, &args);
    let nmap = as_nobody(&lab, Path::new("nmap"), &args);
    let (scry, nmap) = (succeeded("scry -sT", &scry), succeeded("nmap -sT", &nmap));
    let filtered: Table = [(40000, ("filtered".to_owned(), "no-response".to_owned()))].into();
    assert_eq!(xml_tables(&scry).0["127.0.0.1"], filtered, "{scry}");
    assert_eq!(xml_tables(&nmap).0["127.0.0.1"], filtered, "{nmap}");
}

/// The SYNs at the target's end, in the order they arrived: their ports.
/// A retry (a slow answer on a loaded machine) repeats a port later: only
/// each port's first SYN counts.
fn syn_order(frames: &[scry_packet::Frame]) -> Vec<u16> {
    let mut seen = std::collections::HashSet::new();
    frames
        .iter()
        .filter_map(|f| f.tcp())
        .filter(|(_, tcp)| tcp.flags.contains(scry_packet::TcpFlags::SYN))
        .map(|(_, tcp)| tcp.dst_port)
        .filter(|port| seen.insert(*port))
        .collect()
}

/// -sT walks the SYN scan's permutation: with one seed, its connections
/// reach the target in the order -sS's SYNs do, and two shards of it are
/// the two halves of that order.
#[test]
fn connect_scan_walks_the_syn_scans_order_and_shards() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("order");
    let syn = "tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and dst host 198.18.0.10";
    let order = |user: &str, extra: &[&str]| {
        let watch = Sniffer::start(&lab.targets()[0], syn);
        let args =
            [extra, &["-Pn", "-n", "-p", "1000-1199", "--seed", "7", "--rate", "2000", "-oX", "-", T0]]
                .concat();
        let out = match user {
            "nobody" => as_nobody(&lab, &copy.binary, &args),
            _ => as_root(&lab, SCRY, &args),
        };
        succeeded(&format!("{extra:?}"), &out);
        syn_order(&watch.finish())
    };
    let syn_scan = order("root", &["-sS", "--no-os-guess"]);
    let connect = order("nobody", &["-sT"]);
    assert_eq!(syn_scan.len(), 200, "{syn_scan:?}");
    assert_eq!(connect, syn_scan);
    let first = order("nobody", &["-sT", "--shard", "0/2"]);
    let second = order("nobody", &["-sT", "--shard", "1/2"]);
    assert_eq!([first, second].concat(), syn_scan);
}

/// `-e` binds every connection to the interface, as nmap's connect scan
/// does (SO_BINDTODEVICE, which Linux allows without privileges since 5.7):
/// through eth0 the target answers; bound to lo, nothing reaches it.
#[test]
fn interface_option_binds_the_connections() {
    let Some(lab) = lab() else { return };
    let copy = Copy::new("iface");
    let run = |iface: &str| {
        let watch = Sniffer::start(&lab.targets()[0], "tcp[tcpflags] & tcp-syn != 0");
        let args = ["-sT", "-Pn", "-n", "-e", iface, "--retries", "0", "-p", "22,81", "-oX", "-", T0];
        let out = as_nobody(&lab, &copy.binary, &args);
        let xml = succeeded(&format!("-e {iface}"), &out);
        (xml_tables(&xml).0.remove(T0).unwrap_or_default(), watch.finish_count())
    };
    let (eth0, syns) = run("eth0");
    let pair = |s: &str, r: &str| (s.to_owned(), r.to_owned());
    assert_eq!(eth0, [(22, pair("open", "syn-ack")), (81, pair("closed", "conn-refused"))].into());
    assert!(syns >= 2, "{syns}");
    let (lo, syns) = run("lo");
    // No route out of lo to the target: the SYNs go nowhere and time out.
    assert_eq!(lo, [(22, pair("filtered", "no-response")), (81, pair("filtered", "no-response"))].into());
    assert_eq!(syns, 0, "a connection bound to lo reached the target");
}

/// Root without CAP_NET_RAW (as in a container that drops it, here through
/// `setpriv --bounding-set=-net_raw`): raw packets are impossible, so scry
/// falls back to -sT as for any unprivileged user, and, being root, still
/// scans as nobody. nmap, which asks only whether it runs as root, fails
/// there.
#[test]
fn root_without_cap_net_raw_falls_back_to_connect() {
    let Some(lab) = lab() else { return };
    let args = ["-d", "-Pn", "-n", "--reason", "-p", PORTS, "-oX", "-", T0];
    let mut cmd = lab.scanner().command("setpriv");
    cmd.args(["--bounding-set=-net_raw", "--inh-caps=-net_raw", SCRY]).args(args).stdin(Stdio::null());
    let out = cmd.output().unwrap();
    let stderr = text(&out.stderr);
    let xml = succeeded("scry as root without CAP_NET_RAW", &out);
    assert!(
        stderr.contains(
            "scry: no CAP_NET_RAW: scanning with -sT (TCP connect), as nmap does without privileges\n"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("scry: parsing replies with uid 65534, gid 65534, CapEff 0000000000000000"),
        "{stderr}"
    );
    assert!(xml.contains(r#"<scaninfo type="connect" protocol="tcp""#), "{xml}");
    assert_eq!(xml_tables(&xml).0[T0], t0_connect_table());
}
