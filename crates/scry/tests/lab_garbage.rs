//! Garbage at the scanner: while a scan runs, another lab namespace sends it
//! random bytes, truncated IPv4 and TCP headers, impossible IHLs and data
//! offsets, TCP options with impossible lengths, ICMP errors quoting garbage
//! or quoting a real probe with a field altered, and replies with bad
//! checksums. The scan must end as it does on a clean link, report nothing
//! the garbage claims, and count as rejected every injected frame that gets
//! through its capture filter.
//!
//! The forger is the drop-all target: it sees the real SYNs scry sends it, so
//! it can quote them (and acknowledge them) with one field spoiled, while
//! none of its ports ever answers for itself.

mod common;

use common::{ethernet, forged_tcp, icmp_unreachable, scan, Scan, Sniffer, QUOTED_LEN};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use scry_capture::{CaptureConfig, Interface, RawSender, Receiver};
use scry_lab::{lab_or_skip, Lab, Node, RejectWith, TargetSpec};
use scry_packet::checksum::checksum;
use scry_packet::layout::{ETHERNET_LEN, IPV4, TCP};
use scry_packet::{build_frame, parse_frame, EthernetSpec, IpSpec, L4Spec, Mac, TcpFlags, TcpSpec};
use scry_probe::cookie::CookieKey;
use scry_probe::syn::SynProbe;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::mpsc;

const SOURCE_PORT: u16 = 40000;
const OPEN: &[u16] = &[22, 80];
/// Rejected by the victim's firewall with ICMP admin-prohibited.
const PROHIBITED: u16 = 443;
const PORTS: &str = "1-1000";
const SCANNED: u16 = 1000;
/// Of each kind of garbage, this many frames.
const EACH: usize = 200;
/// Genuine SYNs to the forger that its forgeries quote and acknowledge.
const QUOTED_PROBES: usize = 20;
/// The IPv4 version/IHL byte, and the TCP data offset nibble's shift.
const IPV4_VERSION_IHL: usize = 0;
const DATA_OFFSET_SHIFT: u8 = 4;
/// ICMP checksum offset (RFC 792) and codes.
const ICMP_CHECKSUM: usize = 2;
const ADMIN_PROHIBITED: u8 = 13;
const FRAGMENTATION_NEEDED: u8 = 4;

/// Who sends what to whom.
struct Parties {
    eth: EthernetSpec,
    scanner: Ipv4Addr,
    victim: Ipv4Addr,
    forger: Ipv4Addr,
}

impl Parties {
    /// A TCP reply from `src` to the scanner's source port with random
    /// sequence and acknowledgement numbers.
    fn reply(&self, rng: &mut StdRng, src: Ipv4Addr, port: u16, flags: TcpFlags) -> Vec<u8> {
        forged_tcp(&self.eth, (src, port), (self.scanner, SOURCE_PORT), flags, rng)
    }

    /// [`Parties::reply`] from the victim about a random port.
    fn victim_reply(&self, rng: &mut StdRng) -> Vec<u8> {
        let flags = if rng.random() { TcpFlags::SYN | TcpFlags::ACK } else { TcpFlags::RST | TcpFlags::ACK };
        let port = rng.random();
        self.reply(rng, self.victim, port, flags)
    }

    /// The Ethernet header alone.
    fn ethernet_header(&self) -> Vec<u8> {
        let mut header = Vec::with_capacity(ETHERNET_LEN);
        header.extend_from_slice(&self.eth.dst.0);
        header.extend_from_slice(&self.eth.src.0);
        header.extend_from_slice(&0x0800u16.to_be_bytes());
        header
    }
}

/// Sets the IPv4 total length to what the frame holds and recomputes the
/// header checksum over the 20 bytes of a header without options.
fn fix_ipv4(frame: &mut [u8]) {
    let total = (frame.len() - ETHERNET_LEN) as u16;
    let ip = &mut frame[ETHERNET_LEN..];
    ip[IPV4::TOTAL_LEN..IPV4::TOTAL_LEN + 2].copy_from_slice(&total.to_be_bytes());
    ip[IPV4::CHECKSUM..IPV4::CHECKSUM + 2].fill(0);
    let sum = checksum(&ip[..20]);
    ip[IPV4::CHECKSUM..IPV4::CHECKSUM + 2].copy_from_slice(&sum.to_be_bytes());
}

fn tcp_at() -> usize {
    ETHERNET_LEN + 20
}

/// Every kind of garbage that needs no genuine probe, [`EACH`] of each.
fn blind_garbage(p: &Parties, rng: &mut StdRng) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    for _ in 0..EACH {
        // Random bytes after an IPv4 Ethernet header.
        let mut frame = p.ethernet_header();
        let len = rng.random_range(1..120);
        frame.extend((0..len).map(|_| rng.random::<u8>()));
        frames.push(frame);

        // A sound IPv4 header carrying random bytes to our port.
        let mut frame = p.victim_reply(rng);
        frame.truncate(tcp_at());
        let len = rng.random_range(4..60);
        frame.extend((0..len).map(|_| rng.random::<u8>()));
        frame[tcp_at() + TCP::DST_PORT..tcp_at() + TCP::DST_PORT + 2]
            .copy_from_slice(&SOURCE_PORT.to_be_bytes());
        fix_ipv4(&mut frame);
        frames.push(frame);

        // An IPv4 header cut short.
        let mut frame = p.victim_reply(rng);
        frame.truncate(ETHERNET_LEN + rng.random_range(1..20));
        frames.push(frame);

        // A TCP header cut short (4 bytes keep the ports).
        let mut frame = p.victim_reply(rng);
        frame.truncate(tcp_at() + rng.random_range(4..20));
        fix_ipv4(&mut frame);
        frames.push(frame);

        // An IHL below 5 or beyond the header.
        let mut frame = p.victim_reply(rng);
        let ihl = [0, 1, 2, 3, 4, 6, 7, 8, 12, 15][rng.random_range(0..10)];
        frame[ETHERNET_LEN + IPV4_VERSION_IHL] = 0x40 | ihl;
        frames.push(frame);

        // A data offset below 5 or beyond the segment.
        let mut frame = p.victim_reply(rng);
        let offset = [0, 1, 2, 3, 4, 6, 9, 15][rng.random_range(0..8)];
        frame[tcp_at() + TCP::DATA_OFFSET] = offset << DATA_OFFSET_SHIFT;
        frames.push(frame);

        // Options whose lengths cannot be: 0, 1, or past the header's end.
        let mut frame = p.victim_reply(rng);
        let kind = [2u8, 3, 4, 5, 8, 30, 254][rng.random_range(0..7)];
        let len = [0u8, 1, 41, 255][rng.random_range(0..4)];
        let options = [kind, len, 0xff, 0xff, 1, kind, 40, 0];
        frame.extend_from_slice(&options);
        frame[tcp_at() + TCP::DATA_OFFSET] = (5 + options.len() as u8 / 4) << DATA_OFFSET_SHIFT;
        fix_ipv4(&mut frame);
        frames.push(frame);

        // A bad TCP checksum (and, being forged, a bad ack).
        let mut frame = p.victim_reply(rng);
        frame[tcp_at() + TCP::CHECKSUM] ^= 0x5a;
        frames.push(frame);

        // ICMP errors quoting random bytes that are no IP header, or the
        // first bytes of one of our probes, too few to hold its sequence.
        let mut quote: Vec<u8> = (0..rng.random_range(0..60)).map(|_| rng.random()).collect();
        if let Some(first) = quote.first_mut() {
            *first = 0x50 | (*first & 0x0f);
        }
        frames.push(icmp_unreachable(&p.eth, p.victim, p.scanner, ADMIN_PROHIBITED, &quote));
        let port = rng.random();
        let ours = p.reply(rng, p.scanner, 0, TcpFlags::SYN);
        let mut probe = ours[ETHERNET_LEN..ETHERNET_LEN + QUOTED_LEN].to_vec();
        probe[IPV4::DST..IPV4::DST + 4].copy_from_slice(&p.victim.octets());
        probe[20 + TCP::SRC_PORT..20 + TCP::SRC_PORT + 2].copy_from_slice(&SOURCE_PORT.to_be_bytes());
        probe[20 + TCP::DST_PORT..20 + TCP::DST_PORT + 2].copy_from_slice(&u16::to_be_bytes(port));
        probe.truncate(rng.random_range(0..QUOTED_LEN - 1));
        frames.push(icmp_unreachable(&p.eth, p.victim, p.scanner, ADMIN_PROHIBITED, &probe));
    }
    frames
}

/// Forgeries about the genuine probe `syn` (its IP datagram) to the forger:
/// acknowledgements and ICMP errors each spoiled in one field.
fn spoiled_answers(p: &Parties, syn: &[u8]) -> Vec<Vec<u8>> {
    let quoted = &syn[..QUOTED_LEN];
    let port = u16::from_be_bytes([quoted[20 + TCP::DST_PORT], quoted[20 + TCP::DST_PORT + 1]]);
    let seq = u32::from_be_bytes(quoted[20 + TCP::SEQ..20 + TCP::SEQ + 4].try_into().unwrap());
    let error = |code, quote: &[u8]| icmp_unreachable(&p.eth, p.forger, p.scanner, code, quote);
    let mut frames = Vec::new();
    // A valid acknowledgement under a corrupt IPv4 header checksum.
    for flags in [TcpFlags::SYN | TcpFlags::ACK, TcpFlags::RST | TcpFlags::ACK] {
        let tcp = TcpSpec {
            src_port: port,
            dst_port: SOURCE_PORT,
            ack: seq.wrapping_add(1),
            flags,
            window: 29200,
            ..TcpSpec::default()
        };
        let ip = IpSpec::new(p.forger.into(), p.scanner.into()).unwrap();
        let mut frame = build_frame(&p.eth, &ip, &L4Spec::Tcp(tcp)).unwrap();
        frame[ETHERNET_LEN + IPV4::CHECKSUM] ^= 0x40;
        frames.push(frame);
    }
    // The probe quoted with its port, sequence or address altered.
    for (at, len) in [(20 + TCP::DST_PORT, 2), (20 + TCP::SEQ, 4), (IPV4::DST, 4)] {
        let mut altered = quoted.to_vec();
        altered[at + len - 1] ^= 0x01;
        frames.push(error(ADMIN_PROHIBITED, &altered));
    }
    // The genuine quote under a code that does not mean filtered.
    frames.push(error(FRAGMENTATION_NEEDED, quoted));
    // The genuine quote under a corrupt ICMP or IPv4 checksum.
    let mut frame = error(ADMIN_PROHIBITED, quoted);
    frame[ETHERNET_LEN + 20 + ICMP_CHECKSUM] ^= 0x40;
    frames.push(frame);
    let mut frame = error(ADMIN_PROHIBITED, quoted);
    frame[ETHERNET_LEN + IPV4::CHECKSUM] ^= 0x40;
    frames.push(frame);
    frames
}

/// Whether process `pid` is still running (not yet exited).
fn running(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next());
    matches!(state, Some(s) if s != 'Z' && s != 'X')
}

/// What the forger did.
struct Forged {
    sent: usize,
    /// scry had not exited when the last forgery left.
    during_scan: bool,
}

/// In the forger's namespace: waits for [`QUOTED_PROBES`] genuine SYNs,
/// then sends all the garbage at once while scry (`pid`) runs.
fn forge(forger: &Node, p: &Parties, ready: mpsc::Sender<()>, pid: mpsc::Receiver<u32>) -> Forged {
    forger
        .run(move || {
            let filter = format!("tcp[tcpflags] == tcp-syn and src host {}", p.scanner);
            let mut rx =
                Receiver::open(scry_lab::IFACE, &CaptureConfig { filter, ..CaptureConfig::default() })
                    .unwrap();
            let tx = RawSender::open(&Interface::by_name(scry_lab::IFACE).unwrap()).unwrap();
            ready.send(()).unwrap();
            let pid = pid.recv().unwrap();
            let mut syns = Vec::new();
            while syns.len() < QUOTED_PROBES {
                if let Some(frame) = rx.next_frame().unwrap() {
                    syns.push(frame.data[ETHERNET_LEN..].to_vec());
                }
            }
            let mut frames = blind_garbage(p, &mut StdRng::seed_from_u64(0x6a7b));
            frames.extend(syns.iter().flat_map(|syn| spoiled_answers(p, syn)));
            for frame in &frames {
                tx.send(frame).unwrap();
            }
            Forged { sent: frames.len(), during_scan: running(pid) }
        })
        .unwrap()
}

/// The JSON Lines run of scry inside the scanner, garbage or not.
fn args(victim: Ipv4Addr, forger: Ipv4Addr) -> Vec<String> {
    let mut args: Vec<String> = ["-p", PORTS, "--rate", "1000", "-g"].map(String::from).to_vec();
    args.extend([SOURCE_PORT.to_string(), victim.to_string(), forger.to_string()]);
    args
}

#[test]
fn garbage_during_a_scan_changes_nothing_and_is_counted() {
    let lab = lab_or_skip!(Lab::builder()
        .target(TargetSpec::new().tcp_listen(OPEN).reject_tcp_port(PROHIBITED, RejectWith::AdminProhibited))
        .target(TargetSpec::new().drop_all()));
    let (scanner, victim, forger) = (lab.scanner(), lab.targets()[0].ipv4(), &lab.targets()[1]);
    let args = args(victim, forger.ipv4());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let clean = scan(scanner, &args);

    let p =
        Parties { eth: ethernet(forger, scanner), scanner: scanner.ipv4(), victim, forger: forger.ipv4() };
    // scry's own capture filter, narrowed to the forger's frames.
    let probe = SynProbe::new(p.scanner.into(), Mac::ZERO, SOURCE_PORT, 64, CookieKey::from_seed(0)).unwrap();
    let filter = format!("({}) and ether src {}", probe.filter(), forger.mac());
    let through = Sniffer::start(scanner, &filter);
    let (ready_tx, ready) = mpsc::channel();
    let (pid_tx, pid) = mpsc::channel();
    let (dirty, forged) = std::thread::scope(|s| {
        let forging = s.spawn(|| forge(forger, &p, ready_tx, pid));
        ready.recv().expect("the forger died before capturing");
        let child = common::command(scanner, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        pid_tx.send(child.id()).unwrap();
        let out = child.wait_with_output().unwrap();
        (Scan::from_output(out.status, &out.stdout, &out.stderr), forging.join().unwrap())
    });
    let passed = through.finish_count();

    assert!(dirty.status.success(), "scry failed under garbage: {}\n{}", dirty.status, dirty.stderr);
    dirty.check_stream();
    assert!(forged.during_scan, "scry ended before the garbage was all sent: the count below would not hold");
    let open: BTreeSet<u16> = OPEN.iter().copied().collect();
    assert_eq!(clean.in_state(victim, "open"), open);
    assert_eq!(clean.in_state(victim, "filtered"), BTreeSet::from([PROHIBITED]));
    let closed: BTreeSet<u16> = (1..=SCANNED).filter(|n| !open.contains(n) && *n != PROHIBITED).collect();
    assert_eq!(clean.in_state(victim, "closed"), closed);
    assert!(clean.ports().keys().all(|(ip, _)| *ip == victim), "the drop-all target answered");
    assert_eq!(clean.stat("rejected"), 0, "{}", clean.stats());

    let (dirty_ports, clean_ports) = (dirty.ports(), clean.ports());
    let changed: Vec<_> = dirty_ports.iter().filter(|(k, p)| clean_ports.get(k) != Some(p)).collect();
    let lost: Vec<_> = clean_ports.keys().filter(|k| !dirty_ports.contains_key(k)).collect();
    assert!(changed.is_empty() && lost.is_empty(), "garbage changed {changed:?}, lost {lost:?}");
    assert_eq!(dirty.hosts(), clean.hosts());
    let rejected = dirty.stat("rejected");
    assert!(passed > 0, "no garbage got through the capture filter");
    assert!(
        rejected >= passed as u64,
        "{passed} of {} forged frames reached scry's filter, only {rejected} rejected: {}",
        forged.sent,
        dirty.stats()
    );
    eprintln!("sent {}, through the filter {passed}, rejected {rejected}", forged.sent);
}

/// The garbage parses or fails to parse, but never as an answer: checked
/// offline against the same parser scry uses, no lab needed.
#[test]
fn blind_garbage_is_never_an_answer() {
    let p = Parties {
        eth: EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 11]), dst: Mac([2, 0, 0xc6, 0x12, 0, 1]) },
        scanner: Ipv4Addr::new(198, 18, 0, 1),
        victim: Ipv4Addr::new(198, 18, 0, 10),
        forger: Ipv4Addr::new(198, 18, 0, 11),
    };
    let probe = SynProbe::new(p.scanner.into(), Mac::ZERO, SOURCE_PORT, 64, CookieKey::from_seed(1)).unwrap();
    let frames = blind_garbage(&p, &mut StdRng::seed_from_u64(0x6a7b));
    assert_eq!(frames.len(), 10 * EACH);
    for frame in &frames {
        if let Ok(parsed) = parse_frame(scry_packet::LinkType::Ethernet, frame) {
            let verdict = probe.classify(&parsed);
            assert!(!matches!(verdict, scry_probe::syn::Verdict::Port { .. }), "{frame:02x?} -> {verdict:?}");
        }
    }
}
