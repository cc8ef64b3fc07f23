//! The FIN, NULL, Xmas, ACK, window, Maimon and custom-flag probes on whole
//! frames: what each sends, and how each reads the replies a stack sends
//! by RFC 9293's reset rule, forged replies and quoting ICMP errors.

use scry_packet::checksum::checksum;
use scry_packet::layout::ETHERNET_LEN;
use scry_packet::{
    build_frame, parse_frame, EthernetSpec, IcmpEchoSpec, IpSpec, L4Spec, LinkType, Mac, TcpFlags, TcpSpec,
};
use scry_probe::cookie::CookieKey;
use scry_probe::probe::Probe;
use scry_probe::state::{PortState, Reason};
use scry_probe::syn::Verdict;
use scry_probe::tcpscan::{FlagProbe, TcpScan, TcpScanSpec, FLAG_PROBE_WINDOW};
use std::net::Ipv4Addr;

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const THEM: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 10);
const SOURCE_PORT: u16 = 40000;
const PORT: u16 = 443;
const OUR_MAC: Mac = Mac([2, 0, 0xc6, 0x12, 0, 1]);
const THEIR_MAC: Mac = Mac([2, 0, 0xc6, 0x12, 0, 10]);
const ETH: EthernetSpec = EthernetSpec { src: THEIR_MAC, dst: OUR_MAC };
const ALL: [TcpScan; 7] = TcpScan::ALL;

fn probe(spec: TcpScanSpec) -> FlagProbe {
    FlagProbe::new(US.into(), OUR_MAC, SOURCE_PORT, 64, CookieKey::from_seed(7), spec).unwrap()
}

fn of(scan: TcpScan) -> FlagProbe {
    probe(TcpScanSpec { scan, scanflags: None })
}

/// The frame `probe` sends to [`THEM`]:[`PORT`].
fn sent(probe: &FlagProbe) -> Vec<u8> {
    let mut frame = vec![0; probe.max_frame_len()];
    let n = probe.write(THEM.into(), PORT, 0, THEIR_MAC, 1, &mut frame).unwrap();
    frame.truncate(n);
    frame
}

/// (flags, seq, ack, window, options length) of the probe's TCP header.
fn fields(probe: &FlagProbe) -> (TcpFlags, u32, u32, u16, usize) {
    let frame = sent(probe);
    let parsed = parse_frame(LinkType::Ethernet, &frame).unwrap();
    let (_, tcp) = parsed.tcp().unwrap();
    (tcp.flags, tcp.seq, tcp.ack, tcp.window, tcp.options.as_bytes().len())
}

/// The reset a stack sends for `probe`'s segment (RFC 9293 3.10.7.1): with
/// the segment's ack as its seq when it had ACK, else acknowledging it.
fn reset(probe: &FlagProbe, window: u16) -> Vec<u8> {
    let (flags, seq, ack, _, _) = fields(probe);
    let length = u32::from(flags.contains(TcpFlags::SYN)) + u32::from(flags.contains(TcpFlags::FIN));
    let tcp = if flags.contains(TcpFlags::ACK) {
        TcpSpec { seq: ack, flags: TcpFlags::RST, window, ..reply_ports() }
    } else {
        TcpSpec {
            ack: seq.wrapping_add(length),
            flags: TcpFlags::RST | TcpFlags::ACK,
            window,
            ..reply_ports()
        }
    };
    frame(tcp)
}

fn reply_ports() -> TcpSpec<'static> {
    TcpSpec { src_port: PORT, dst_port: SOURCE_PORT, ..TcpSpec::default() }
}

fn frame(tcp: TcpSpec<'_>) -> Vec<u8> {
    build_frame(&ETH, &IpSpec::new(THEM.into(), US.into()).unwrap(), &L4Spec::Tcp(tcp)).unwrap()
}

fn classify(probe: &FlagProbe, frame: &[u8]) -> Verdict {
    probe.classify(&parse_frame(LinkType::Ethernet, frame).unwrap())
}

fn state_of(probe: &FlagProbe, frame: &[u8]) -> (PortState, Reason) {
    match classify(probe, frame) {
        Verdict::Port { host, port, result } => {
            assert_eq!((host, port, result.ttl), (THEM.into(), PORT, 64));
            (result.state, result.reason)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_scan_sends_its_flags_with_the_cookie_in_seq_and_for_ack_probes_in_ack() {
    for scan in ALL {
        let (flags, seq, ack, window, options) = fields(&of(scan));
        assert_eq!(flags, scan.flags(), "{scan}");
        assert_eq!(window, FLAG_PROBE_WINDOW, "{scan}");
        // MSS only with SYN, as nmap's probes.
        assert_eq!(options, if scan == TcpScan::Syn { 4 } else { 0 }, "{scan}");
        assert_ne!(seq, 0, "{scan}");
        assert_eq!(ack, if flags.contains(TcpFlags::ACK) { seq } else { 0 }, "{scan}");
    }
    let custom = probe(TcpScanSpec { scan: TcpScan::Fin, scanflags: Some(TcpFlags(0x3f)) });
    assert_eq!(fields(&custom).0, TcpFlags(0x3f));
}

#[test]
fn resets_read_as_nmap_reads_them() {
    let closed = (PortState::Closed, Reason::Reset);
    for scan in [TcpScan::Fin, TcpScan::Null, TcpScan::Xmas, TcpScan::Maimon, TcpScan::Syn] {
        assert_eq!(state_of(&of(scan), &reset(&of(scan), 0)), closed, "{scan}");
    }
    let ack = of(TcpScan::Ack);
    assert_eq!(state_of(&ack, &reset(&ack, 0)), (PortState::Unfiltered, Reason::Reset));
    let window = of(TcpScan::Window);
    assert_eq!(state_of(&window, &reset(&window, 0)), closed);
    assert_eq!(state_of(&window, &reset(&window, 4096)), (PortState::Open, Reason::Reset));
}

#[test]
fn a_syn_ack_to_a_custom_syn_probe_is_open() {
    let p = probe(TcpScanSpec { scan: TcpScan::Syn, scanflags: Some(TcpFlags::SYN | TcpFlags::FIN) });
    let (_, seq, _, _, _) = fields(&p);
    // SYN and FIN take one sequence number each.
    let syn_ack =
        frame(TcpSpec { ack: seq.wrapping_add(2), flags: TcpFlags::SYN | TcpFlags::ACK, ..reply_ports() });
    assert_eq!(state_of(&p, &syn_ack), (PortState::Open, Reason::SynAck));
    // To a FIN scan the same segment says nothing.
    let fin = probe(TcpScanSpec { scan: TcpScan::Fin, scanflags: Some(TcpFlags::SYN | TcpFlags::FIN) });
    assert_eq!(classify(&fin, &syn_ack), Verdict::Invalid);
}

#[test]
fn resets_without_the_cookie_are_rejected() {
    for scan in ALL {
        let p = of(scan);
        let (flags, seq, ack, _, _) = fields(&p);
        let wrong = if flags.contains(TcpFlags::ACK) {
            TcpSpec { seq: ack ^ 0x100, flags: TcpFlags::RST, ..reply_ports() }
        } else {
            TcpSpec { ack: seq.wrapping_add(7), flags: TcpFlags::RST | TcpFlags::ACK, ..reply_ports() }
        };
        assert_eq!(classify(&p, &frame(wrong)), Verdict::Invalid, "{scan}");
        // A probe without ACK has no ack number to be echoed as a seq.
        if !flags.contains(TcpFlags::ACK) {
            let echoed = TcpSpec { seq, flags: TcpFlags::RST, ack: 12345, ..reply_ports() };
            assert_eq!(classify(&p, &frame(echoed)), Verdict::Invalid, "{scan}");
        }
    }
    // Another port of ours is not this scan's.
    let p = of(TcpScan::Fin);
    let other = TcpSpec { dst_port: SOURCE_PORT + 1, ..TcpSpec::default() };
    assert_eq!(classify(&p, &frame(other)), Verdict::Unrelated);
}

/// An ICMP error of `icmp_type`/`code` from [`THEM`] quoting `probe`'s
/// frame: its IP header and first 8 TCP bytes (RFC 792).
fn icmp_error(probe: &FlagProbe, icmp_type: u8, code: u8) -> Vec<u8> {
    let sent = sent(probe);
    let quoted = &sent[ETHERNET_LEN..ETHERNET_LEN + 28];
    let echo = IcmpEchoSpec { code, id: 0, seq: 0, payload: quoted };
    let ip = IpSpec::new(THEM.into(), US.into()).unwrap();
    let mut error = build_frame(&ETH, &ip, &L4Spec::IcmpEcho(echo)).unwrap();
    let at = ETHERNET_LEN + ip.header_len();
    error[at] = icmp_type;
    error[at + 2..at + 4].fill(0);
    let sum = checksum(&error[at..]);
    error[at + 2..at + 4].copy_from_slice(&sum.to_be_bytes());
    error
}

#[test]
fn icmp_unreachables_quoting_the_probe_are_filtered_for_every_scan() {
    for scan in ALL {
        let p = of(scan);
        for code in [0, 1, 2, 3, 9, 10, 13] {
            assert_eq!(
                state_of(&p, &icmp_error(&p, 3, code)),
                (PortState::Filtered, Reason::Unreachable(code)),
                "{scan} code {code}"
            );
        }
        // Fragmentation needed (4) says nothing about the port.
        assert_eq!(classify(&p, &icmp_error(&p, 3, 4)), Verdict::Invalid, "{scan}");
        // A quote of another scan's probe (another cookie) is not ours.
        let other = FlagProbe::new(
            US.into(),
            OUR_MAC,
            SOURCE_PORT,
            64,
            CookieKey::from_seed(8),
            TcpScanSpec { scan, scanflags: None },
        )
        .unwrap();
        assert_eq!(classify(&p, &icmp_error(&other, 3, 3)), Verdict::Invalid, "{scan}");
    }
}

#[test]
fn silent_ports_are_open_filtered_for_the_fin_like_scans_only() {
    let silent: Vec<(TcpScan, PortState)> = ALL.iter().map(|s| (*s, of(*s).silent_state())).collect();
    use PortState::{Filtered, OpenFiltered};
    assert_eq!(
        silent,
        [
            (TcpScan::Syn, Filtered),
            (TcpScan::Fin, OpenFiltered),
            (TcpScan::Null, OpenFiltered),
            (TcpScan::Xmas, OpenFiltered),
            (TcpScan::Ack, Filtered),
            (TcpScan::Window, Filtered),
            (TcpScan::Maimon, OpenFiltered),
        ]
    );
}
