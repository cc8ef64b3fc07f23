//! Shared helpers of scry's integration tests: run the binary inside a lab
//! namespace, read its JSON Lines, capture what reaches a node.
//!
//! Every scan goes through [`scan`] or [`command`], which run the binary via
//! `ip netns exec` in a lab node's namespace: no test sends a probe from the
//! root namespace. Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub mod services;
pub mod tools;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scry_capture::{CaptureConfig, Receiver};
use scry_lab::{Node, Personality};
use scry_packet::checksum::checksum;
use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{
    build_frame, parse_frame, EthernetSpec, Frame, IcmpEchoSpec, IpSpec, L4Spec, Mac, TcpFlags, TcpSpec,
};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The scry binary under test.
pub const SCRY: &str = env!("CARGO_BIN_EXE_scry");

/// Serialises the heavy (`-p-` at tens of thousands of packets per second)
/// scans of one test binary, so two of them never compete for the 2 cores.
pub fn heavy() -> MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `count` distinct ports in 1-65535 drawn from `seed` (the same every
/// run), never `except` (the scanner's source port, say).
pub fn random_ports(seed: u64, count: usize, except: u16) -> BTreeSet<u16> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut ports = BTreeSet::new();
    while ports.len() < count {
        let port = rng.random_range(1..=u16::MAX);
        if port != except {
            ports.insert(port);
        }
    }
    ports
}

/// nmap's OS database as Debian installs it.
pub const NMAP_DB: &str = "/usr/share/nmap/nmap-os-db";

/// Whether [`NMAP_DB`] exists; its absence fails under CI (`CI=true`).
pub fn nmap_db_present() -> bool {
    if std::path::Path::new(NMAP_DB).exists() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{NMAP_DB} is required under CI (package nmap-common)"
    );
    eprintln!("skipped: {NMAP_DB} not installed");
    false
}

/// Runs `cmd` with `stdin` as its input: (exit status, stdout, stderr).
pub fn run_with_input(cmd: &mut Command, stdin: &str) -> (i32, String, String) {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running scry");
    // scry may exit without reading its input (a refused command line).
    if let Err(e) = std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "writing scry's input: {e}");
    }
    let out = child.wait_with_output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// scry inside `node`'s namespace, with JSON Lines on stdout.
pub fn command(node: &Node, args: &[&str]) -> Command {
    let mut cmd = node.command(SCRY);
    cmd.args(args).args(["-oJ", "-"]);
    cmd
}

/// Starts scry in `node` with JSON Lines on a pipe read line by line.
pub fn spawn_piped(node: &Node, args: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let mut child = command(node, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting scry");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    (child, stdout)
}

/// Reads JSON Lines from a running scry until `n` port records have come;
/// returns what was read.
pub fn read_answers(stdout: &mut impl BufRead, n: usize) -> String {
    let mut seen = String::new();
    let mut answers = 0;
    while answers < n {
        let mut line = String::new();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "scry ended after {answers} answers: {seen}");
        answers += usize::from(line.contains("\"type\":\"port\""));
        seen += &line;
    }
    seen
}

/// Runs `nft -f -` with `script` in `node`.
pub fn nft(node: &Node, script: &str) {
    let out = node.command("nft").args(["-f", "-"]).stdin(Stdio::piped()).spawn().and_then(|mut child| {
        use std::io::Write;
        child.stdin.take().expect("piped stdin").write_all(script.as_bytes())?;
        child.wait_with_output()
    });
    let out = out.expect("running nft");
    assert!(out.status.success(), "nft in {}: {}", node.ns(), String::from_utf8_lossy(&out.stderr));
}

/// The packet counts of the `counter` rules of `chain` in nft table
/// `inet TABLE` in `node`, in rule order.
pub fn nft_counters(node: &Node, table: &str, chain: &str) -> Vec<u64> {
    let out =
        node.command("nft").args(["list", "chain", "inet", table, chain]).output().expect("running nft");
    assert!(out.status.success(), "nft list in {}: {}", node.ns(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|line| line.split_once("counter packets ").map(|(_, rest)| rest))
        .map(|rest| rest.split(' ').next().and_then(|n| n.parse().ok()).expect("a packet count"))
        .collect()
}

/// One finished run of scry.
#[derive(Debug)]
pub struct Scan {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub records: Vec<Value>,
}

/// What a `port` record says.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Port {
    pub state: String,
    pub reason: String,
    pub ttl: u64,
}

impl Port {
    pub fn new(state: &str, reason: &str, ttl: u64) -> Port {
        Port { state: state.into(), reason: reason.into(), ttl }
    }
}

/// Linux with its defaults, `tcp_rmem` written out: the kernel sizes its
/// maximum (and so the window scale) by the machine's memory.
pub fn linux_personality() -> Personality {
    Personality { tcp_rmem: Some("4096 131072 33554432".to_owned()), ..Personality::default() }
}

/// The OS tests' stacks: Linux as is, and tuned (TTL 128 without
/// timestamps or window scaling; no SACK, ECN on, a small window; TTL 255
/// without timestamps; ignoring pings).
pub fn os_personalities() -> [Personality; 5] {
    let base = linux_personality;
    [
        base(),
        Personality {
            ttl: Some(128),
            tcp_timestamps: Some(false),
            tcp_window_scaling: Some(false),
            ..base()
        },
        Personality {
            tcp_sack: Some(false),
            tcp_ecn: Some(1),
            tcp_rmem: Some("4096 8192 16384".to_owned()),
            ..base()
        },
        Personality { ttl: Some(255), tcp_timestamps: Some(false), ..base() },
        Personality { icmp_echo_ignore_all: Some(true), ..base() },
    ]
}

/// Runs scry in `node` with `args` (plus `-oJ -`) and checks that it
/// succeeded and wrote a well-formed record stream.
pub fn scan(node: &Node, args: &[&str]) -> Scan {
    let out = command(node, args).stdin(Stdio::null()).output().expect("running scry");
    let scan = Scan::from_output(out.status, &out.stdout, &out.stderr);
    assert!(scan.status.success(), "scry {args:?} failed: {}\n{}", scan.status, scan.stderr);
    scan.check_stream();
    scan
}

impl Scan {
    pub fn from_output(status: ExitStatus, stdout: &[u8], stderr: &[u8]) -> Scan {
        let stdout = String::from_utf8_lossy(stdout).into_owned();
        let stderr = String::from_utf8_lossy(stderr).into_owned();
        let records = parse_lines(&stdout);
        Scan { status, stdout, stderr, records }
    }

    /// The stream is `begin`, then `host` and `port` records, then `stats`;
    /// a port is reported at most twice (an ICMP answer, then a TCP one).
    pub fn check_stream(&self) {
        let types: Vec<&str> = self.records.iter().map(|r| r["type"].as_str().unwrap_or("?")).collect();
        assert_eq!(types.first(), Some(&"begin"), "first record: {}", self.stdout);
        assert_eq!(types.last(), Some(&"stats"), "last record: {}", self.stdout);
        let middle = &types[1..types.len() - 1];
        assert!(
            middle.iter().all(|t| ["host", "port", "service", "os", "os_quick"].contains(t)),
            "record types: {middle:?}"
        );
        // TCP 53 and UDP 53 are two ports.
        let mut seen: BTreeMap<(Ipv4Addr, u16, &str), Vec<String>> = BTreeMap::new();
        for r in self.records_of("port") {
            let (ip, port) = key(r);
            let proto = r["proto"].as_str().expect("port proto");
            seen.entry((ip, port, proto)).or_default().push(r["state"].as_str().unwrap().to_owned());
        }
        for (k, states) in &seen {
            let upgrade = states.len() == 2 && states[0] == "filtered" && states[1] != "filtered";
            assert!(states.len() == 1 || upgrade, "{k:?} reported as {states:?}");
        }
        let mut hosts = BTreeSet::new();
        for r in self.records_of("host") {
            assert!(hosts.insert(ip(r)), "host {} reported twice", ip(r));
        }
    }

    pub fn records_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["type"] == kind)
    }

    /// The final answer for every port that answered.
    pub fn ports(&self) -> BTreeMap<(Ipv4Addr, u16), Port> {
        self.records_of("port")
            .map(|r| {
                let ttl = r["ttl"].as_u64().expect("port ttl");
                let port = Port::new(r["state"].as_str().unwrap(), r["reason"].as_str().unwrap(), ttl);
                (key(r), port)
            })
            .collect()
    }

    /// Ports of `host` in `state`.
    pub fn in_state(&self, host: Ipv4Addr, state: &str) -> BTreeSet<u16> {
        self.ports()
            .into_iter()
            .filter(|((h, _), p)| *h == host && p.state == state)
            .map(|((_, n), _)| n)
            .collect()
    }

    /// `(ip, port, state)` of every answer.
    pub fn triples(&self) -> BTreeSet<(Ipv4Addr, u16, String)> {
        self.ports().into_iter().map(|((h, n), p)| (h, n, p.state)).collect()
    }

    /// Hosts reported up, with the reason and TTL (`None` for ARP and `-Pn`).
    pub fn hosts(&self) -> BTreeMap<Ipv4Addr, (String, Option<u64>)> {
        self.records_of("host")
            .map(|r| (ip(r), (r["reason"].as_str().unwrap().to_owned(), r["ttl"].as_u64())))
            .collect()
    }

    /// The `begin` record.
    pub fn begin(&self) -> &Value {
        self.records_of("begin").next().expect("no begin record")
    }

    /// The `stats` record.
    pub fn stats(&self) -> &Value {
        self.records_of("stats").last().expect("no stats record")
    }

    /// A counter of the `stats` record.
    pub fn stat(&self, name: &str) -> u64 {
        self.stats()[name].as_u64().unwrap_or_else(|| panic!("stats has no counter {name}: {}", self.stats()))
    }
}

/// The answers a host gives to a scan of `scanned`: `open` ports answer
/// SYN-ACK, `prohibited` ICMP admin-prohibited, every other port RST, all
/// with `ttl`.
pub fn expect_host(
    table: &mut BTreeMap<(Ipv4Addr, u16), Port>,
    ip: Ipv4Addr,
    scanned: &[u16],
    open: &[u16],
    prohibited: &[u16],
    ttl: u64,
) {
    for &port in scanned {
        let answer = if open.contains(&port) {
            Port::new("open", "syn-ack", ttl)
        } else if prohibited.contains(&port) {
            Port::new("filtered", "admin-prohibited", ttl)
        } else {
            Port::new("closed", "reset", ttl)
        };
        table.insert((ip, port), answer);
    }
}

/// The per-host reports of a normal output, keyed by address.
pub fn normal_reports(text: &str) -> BTreeMap<Ipv4Addr, String> {
    text.split("scry scan report for ")
        .skip(1)
        .map(|block| {
            let (ip, rest) = block.split_once('\n').expect("a report line");
            let report = rest.split("\n\n").next().unwrap_or_default();
            (ip.parse().expect("an IPv4 address"), report.to_owned())
        })
        .collect()
}

/// How many ports a normal-output report accounts for: its table rows plus
/// the counts of its `Not shown:` line.
pub fn normal_port_count(report: &str) -> u64 {
    let rows =
        report.lines().filter(|l| l.split_once("/tcp ").is_some_and(|(p, _)| p.parse::<u16>().is_ok()));
    let hidden = report.lines().filter_map(|l| l.strip_prefix("Not shown: ")).flat_map(|l| {
        l.split(", ").map(|part| part.split(' ').next().unwrap().parse::<u64>().expect("a count"))
    });
    rows.count() as u64 + hidden.sum::<u64>()
}

/// (state, reason, ttl) of every `host` record, up or down.
pub fn host_records(records: &[Value]) -> BTreeMap<Ipv4Addr, (String, String, Option<u64>)> {
    records
        .iter()
        .filter(|r| r["type"] == "host")
        .map(|r| {
            let text = |k: &str| r[k].as_str().expect("a host record field").to_owned();
            (ip(r), (text("state"), text("reason"), r["ttl"].as_u64()))
        })
        .collect()
}

/// Parses JSON Lines, panicking on any line that is not a JSON object with a type.
pub fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON line {line:?}: {e}"));
            assert!(value["type"].is_string(), "record without a type: {line}");
            value
        })
        .collect()
}

fn ip(record: &Value) -> Ipv4Addr {
    record["ip"].as_str().expect("ip").parse().expect("an IPv4 address")
}

fn key(record: &Value) -> (Ipv4Addr, u16) {
    (ip(record), record["port"].as_u64().expect("port") as u16)
}

/// Captures frames on a node's `eth0` on a background thread until stopped.
pub struct Sniffer {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Captured>>,
}

/// What a [`Sniffer`] caught: every frame the filter passed, and those of
/// them that parse.
struct Captured {
    count: usize,
    frames: Vec<Frame>,
}

impl Sniffer {
    /// Starts capturing with `filter` on `node`'s `eth0`; returns once the
    /// capture is open, so nothing sent afterwards is missed.
    pub fn start(node: &Node, filter: &str) -> Sniffer {
        Sniffer::start_on(node, scry_lab::IFACE, filter)
    }

    /// As [`Sniffer::start`], on interface `iface` of the node.
    pub fn start_on(node: &Node, iface: &str, filter: &str) -> Sniffer {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready) = mpsc::channel();
        let (node, iface, filter, flag) =
            (node.clone(), iface.to_owned(), filter.to_owned(), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            node.run(move || {
                let config = CaptureConfig { filter, ..CaptureConfig::default() };
                let mut rx = Receiver::open(&iface, &config).expect("opening the capture");
                ready_tx.send(()).expect("test still waiting");
                let link = rx.link_type();
                let mut caught = Captured { count: 0, frames: Vec::new() };
                loop {
                    let stopping = flag.load(Ordering::Acquire);
                    match rx.next_frame().expect("capturing") {
                        Some(f) => {
                            caught.count += 1;
                            caught.frames.extend(parse_frame(link, f.data).ok());
                        }
                        // Stopped and drained.
                        None if stopping => return caught,
                        None => {}
                    }
                }
            })
            .expect("entering the namespace")
        });
        ready.recv().expect("the capture thread died before opening");
        Sniffer { stop, thread: Some(thread) }
    }

    /// Stops and returns every frame captured that parses.
    pub fn finish(self) -> Vec<Frame> {
        self.stop().frames
    }

    /// Stops and returns how many frames the filter passed, parsing or not.
    pub fn finish_count(self) -> usize {
        self.stop().count
    }

    fn stop(mut self) -> Captured {
        self.stop.store(true, Ordering::Release);
        self.thread.take().expect("finished once").join().expect("capture thread panicked")
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// ICMP header fields (RFC 792): type, code, checksum, then four unused bytes.
const ICMP_TYPE: usize = 0;
const ICMP_CHECKSUM: usize = 2;
const ICMP_UNREACHABLE: u8 = 3;
/// An ICMP error quotes the IP header and the first 8 bytes of the datagram (RFC 792).
pub const QUOTED_LEN: usize = 20 + 8;

/// Ethernet from `from`'s MAC to `to`'s, as a forger in `from` sends it.
pub fn ethernet(from: &Node, to: &Node) -> EthernetSpec {
    EthernetSpec { src: Mac(from.mac().octets()), dst: Mac(to.mac().octets()) }
}

/// An ICMP destination-unreachable error with `code` from `src` to `dst`
/// quoting `quoted`, correctly checksummed. Built as an echo request
/// carrying the quote, then retyped.
pub fn icmp_unreachable(
    eth: &EthernetSpec,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    code: u8,
    quoted: &[u8],
) -> Vec<u8> {
    let ip = IpSpec::new(src.into(), dst.into()).unwrap();
    let echo = IcmpEchoSpec { code, id: 0, seq: 0, payload: quoted };
    let mut frame = build_frame(eth, &ip, &L4Spec::IcmpEcho(echo)).unwrap();
    let icmp = &mut frame[ETHERNET_LEN + ip.header_len()..];
    icmp[ICMP_TYPE] = ICMP_UNREACHABLE;
    icmp[ICMP_CHECKSUM..ICMP_CHECKSUM + 2].fill(0);
    let sum = checksum(icmp);
    icmp[ICMP_CHECKSUM..ICMP_CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
    frame
}

/// A TCP segment with `flags` from `src`:`src_port` to `dst`:`dst_port`
/// and random sequence and acknowledgement numbers: what a blind forger sends.
pub fn forged_tcp<A: Into<std::net::IpAddr>>(
    eth: &EthernetSpec,
    (src, src_port): (A, u16),
    (dst, dst_port): (A, u16),
    flags: TcpFlags,
    rng: &mut impl Rng,
) -> Vec<u8> {
    let tcp = TcpSpec {
        src_port,
        dst_port,
        seq: rng.random(),
        ack: rng.random(),
        flags,
        window: 29200,
        ..TcpSpec::default()
    };
    build_frame(eth, &IpSpec::new(src.into(), dst.into()).unwrap(), &L4Spec::Tcp(tcp)).unwrap()
}

/// While `scan` runs in the calling thread, sends rounds of `forgeries`
/// (given a seeded RNG) from `forger`'s namespace every `round`, from before
/// the scan starts until it ends; the scan's result and how many frames were
/// forged.
pub fn forging_during<T: Send>(
    forger: &Node,
    round: std::time::Duration,
    mut forgeries: impl FnMut(&mut StdRng) -> Vec<Vec<u8>> + Send,
    scan: impl FnOnce() -> T,
) -> (T, usize) {
    let stop = AtomicBool::new(false);
    let (started_tx, started) = mpsc::channel();
    std::thread::scope(|s| {
        let forging = s.spawn(|| {
            forger
                .run(|| {
                    let tx = scry_capture::RawSender::open(
                        &scry_capture::Interface::by_name(scry_lab::IFACE).unwrap(),
                    )
                    .unwrap();
                    let mut rng = StdRng::seed_from_u64(0xf0f0);
                    let mut sent = 0usize;
                    while !stop.load(Ordering::Acquire) {
                        let frames = forgeries(&mut rng);
                        for frame in &frames {
                            tx.send(frame).unwrap();
                        }
                        sent += frames.len();
                        let _ = started_tx.send(());
                        std::thread::sleep(round);
                    }
                    sent
                })
                .unwrap()
        });
        started.recv().expect("the forger died before its first round");
        let out = scan();
        stop.store(true, Ordering::Release);
        (out, forging.join().unwrap())
    })
}
