//! Forged replies: SYN-ACKs and RSTs with wrong acknowledgement numbers, and
//! ICMP errors quoting probes scry never sent, aimed at the scanner's source
//! port from another lab namespace while a scan runs, must never be reported,
//! and the stats count them as rejected. Replays of a genuine answer must not
//! keep the scan running.

mod common;

use common::{command, ethernet, forged_tcp, forging_during, icmp_unreachable, scan, Scan, QUOTED_LEN};
use rand::rngs::StdRng;
use rand::Rng;
use scry_capture::{CaptureConfig, Interface, RawSender, Receiver};
use scry_lab::{lab_or_skip, Lab, Node, TargetSpec};
use scry_packet::{
    build_frame, build_ip, parse_frame, EthernetSpec, IpSpec, L4Spec, LinkType, Mac, Tcp, TcpFlags, TcpSpec,
    Transport,
};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

const SOURCE_PORT: u16 = 40000;
const OPEN: &[u16] = &[22, 80];
/// Closed ports of the victim that forged SYN-ACKs claim are open.
const FORGED_OPEN: std::ops::Range<u16> = 1000..1100;
/// Ports of the victim that forged ICMP admin-prohibited errors claim are filtered.
const FORGED_FILTERED: &[u16] = &[22, 80, 2000, 2001, 2002];
const ICMP_ADMIN_PROHIBITED: u8 = 13;
/// Pause between rounds of forgeries.
const ROUND: Duration = Duration::from_millis(10);

/// An ICMP admin-prohibited error from `victim` quoting a SYN from the
/// scanner's source port to `port` whose sequence number scry never used.
fn forged_unreachable(
    eth: &EthernetSpec,
    victim: Ipv4Addr,
    scanner: Ipv4Addr,
    port: u16,
    seq: u32,
) -> Vec<u8> {
    let probe = IpSpec::new(scanner.into(), victim.into()).unwrap();
    let syn =
        TcpSpec { src_port: SOURCE_PORT, dst_port: port, seq, flags: TcpFlags::SYN, ..TcpSpec::default() };
    let quoted = build_ip(&probe, &L4Spec::Tcp(syn)).unwrap();
    icmp_unreachable(eth, victim, scanner, ICMP_ADMIN_PROHIBITED, &quoted[..QUOTED_LEN])
}

/// One round of forgeries from `victim` to `scanner`: a SYN-ACK for every
/// port of [`FORGED_OPEN`] and a RST for every open port, all with random
/// acks, and an ICMP error for every port of [`FORGED_FILTERED`].
fn forgeries(forger: &Node, victim: Ipv4Addr, scanner: &Node, rng: &mut StdRng) -> Vec<Vec<u8>> {
    let eth = ethernet(forger, scanner);
    let syn_acks = FORGED_OPEN.map(|port| (port, TcpFlags::SYN | TcpFlags::ACK));
    let resets = OPEN.iter().map(|&port| (port, TcpFlags::RST | TcpFlags::ACK));
    let to = (scanner.ipv4(), SOURCE_PORT);
    let mut frames: Vec<Vec<u8>> = syn_acks
        .chain(resets)
        .map(|(port, flags)| forged_tcp(&eth, (victim, port), to, flags, rng))
        .collect();
    for &port in FORGED_FILTERED {
        frames.push(forged_unreachable(&eth, victim, scanner.ipv4(), port, rng.random()));
    }
    frames
}

/// The forged ICMP error parses as scry will parse it: a checksummed
/// admin-prohibited error quoting our source port and the forged sequence.
#[test]
fn forged_unreachable_is_well_formed() {
    let eth = EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 0x0b]), dst: Mac([2, 0, 0xc6, 0x12, 0, 1]) };
    let (victim, scanner) = (Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 1));
    let frame = forged_unreachable(&eth, victim, scanner, 2000, 0xdead_beef);
    let parsed = parse_frame(LinkType::Ethernet, &frame).unwrap();
    let Some(Transport::Icmp(icmp)) = parsed.ip().map(|p| p.transport) else { panic!("{parsed:?}") };
    assert_eq!((icmp.icmp_type, icmp.code, icmp.checksum_ok), (3, 13, true));
    let quoted = icmp.quoted.expect("a quoted probe");
    assert_eq!((quoted.ip.src, quoted.ip.dst, quoted.ip.protocol), (scanner.into(), victim.into(), 6));
    assert_eq!(
        (quoted.src_port, quoted.dst_port, quoted.tcp_seq),
        (Some(SOURCE_PORT), Some(2000), Some(0xdead_beef))
    );
}

#[test]
fn forged_replies_are_rejected_not_reported() {
    let lab =
        lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)).target(TargetSpec::new()));
    let (victim, forger, scanner) = (lab.targets()[0].ipv4(), &lab.targets()[1], lab.scanner());
    let source = SOURCE_PORT.to_string();
    let target = victim.to_string();
    let (out, forged) = forging_during(
        forger,
        ROUND,
        |rng| forgeries(forger, victim, scanner, rng),
        // About a second of probes, so forgeries arrive before, among and after the answers.
        || scan(scanner, &["-p", "1-3000", "--rate", "3000", "-g", &source, &target]),
    );

    assert_eq!(out.in_state(victim, "open"), OPEN.iter().copied().collect::<BTreeSet<_>>());
    let closed = out.in_state(victim, "closed");
    assert_eq!(closed.len(), 3000 - OPEN.len());
    assert!(FORGED_OPEN.clone().all(|p| closed.contains(&p)));
    let filtered: Vec<_> =
        out.records_of("port").filter(|r| r["state"] != "open" && r["state"] != "closed").collect();
    assert!(filtered.is_empty(), "forged ICMP errors were believed: {filtered:?}");
    assert!(out.ports().keys().all(|(ip, _)| *ip == victim));
    let rejected = out.stat("rejected");
    assert!(rejected > 0, "no forgery was counted as rejected: {}", out.stats());
    assert!(rejected <= forged as u64, "rejected {rejected} but only {forged} forged");
}

/// Replays of a genuine SYN-ACK sent before giving up on scry finishing:
/// at one per [`REPLAY_EVERY`], far longer than the scan needs.
const REPLAY_LIMIT: usize = 4000;
const REPLAY_EVERY: Duration = Duration::from_millis(5);

/// A SYN-ACK like `genuine` (same ports, sequence and valid ack), but sent
/// by `replayer` from its own MAC so the bridge keeps the victim's port.
fn replay_of(genuine: &Tcp, replayer: &Node, victim: Ipv4Addr, scanner: &Node) -> Vec<u8> {
    let eth = ethernet(replayer, scanner);
    let ip = IpSpec::new(victim.into(), scanner.ipv4().into()).unwrap();
    let tcp = TcpSpec {
        src_port: genuine.src_port,
        dst_port: genuine.dst_port,
        seq: genuine.seq,
        ack: genuine.ack,
        flags: genuine.flags,
        window: genuine.window,
        ..TcpSpec::default()
    };
    build_frame(&eth, &ip, &L4Spec::Tcp(tcp)).unwrap()
}

/// Regression: a duplicate answer skipped the end-of-scan check, so a stream
/// of valid duplicates (a host re-sending its SYN-ACK, or anyone replaying
/// one) kept scry listening for as long as it lasted.
#[test]
fn replayed_replies_do_not_keep_the_scan_alive() {
    let lab =
        lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(OPEN)).target(TargetSpec::new()));
    let (victim, replayer, scanner) = (lab.targets()[0].ipv4(), &lab.targets()[1], lab.scanner());
    let done_flag = AtomicBool::new(false);
    let scry_done = &done_flag;
    let (ready_tx, ready) = mpsc::channel();
    let (genuine_tx, genuine) = mpsc::channel::<Tcp>();

    let (out, replays) = std::thread::scope(|s| {
        // The scanner's side sees the victim's genuine SYN-ACK first.
        s.spawn(|| {
            scanner.run(|| {
                let filter = format!(
                    "tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) and src host {victim} and dst port {SOURCE_PORT}"
                );
                let mut rx = Receiver::open(scry_lab::IFACE, &CaptureConfig { filter, ..CaptureConfig::default() }).unwrap();
                ready_tx.send(()).unwrap();
                let link = rx.link_type();
                while !scry_done.load(Ordering::Acquire) {
                    if let Some(frame) = rx.next_frame().unwrap() {
                        let parsed = parse_frame(link, frame.data).unwrap();
                        genuine_tx.send(*parsed.tcp().unwrap().1).unwrap();
                        return;
                    }
                }
            })
            .unwrap()
        });
        ready.recv().unwrap();
        let source = SOURCE_PORT.to_string();
        let args = ["-p", "1-3000", "--rate", "3000", "-g", &source, &victim.to_string()];
        let child = command(scanner, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let replaying = s.spawn(move || {
            replayer
                .run(move || {
                    let Ok(genuine) = genuine.recv() else { return 0 };
                    let frame = replay_of(&genuine, replayer, victim, scanner);
                    let tx = RawSender::open(&Interface::by_name(scry_lab::IFACE).unwrap()).unwrap();
                    let mut sent = 0;
                    while !scry_done.load(Ordering::Acquire) && sent < REPLAY_LIMIT {
                        tx.send(&frame).unwrap();
                        sent += 1;
                        std::thread::sleep(REPLAY_EVERY);
                    }
                    sent
                })
                .unwrap()
        });
        let out = child.wait_with_output().unwrap();
        scry_done.store(true, Ordering::Release);
        (Scan::from_output(out.status, &out.stdout, &out.stderr), replaying.join().unwrap())
    });

    assert!(out.status.success(), "{}", out.stderr);
    out.check_stream();
    assert!(replays > 0, "the genuine SYN-ACK was never seen");
    assert!(replays < REPLAY_LIMIT, "scry kept listening while the replays lasted: {}", out.stats());
    assert!(out.stat("duplicates") > 0, "{}", out.stats());
    assert_eq!(out.in_state(victim, "open"), OPEN.iter().copied().collect::<BTreeSet<_>>());
    assert_eq!(out.in_state(victim, "closed").len(), 3000 - OPEN.len());
}
