//! Rebuilding what nmap sent and received for one host from a pcap, so
//! that scry's fingerprint computation can be fed nmap's own exchange.
//!
//! nmap's per-host choices (sequence base, acknowledgment, source ports,
//! echo id, U1's ports and TTL) are read off its probes: the first SEQ probe
//! is the SYN with window 1 whose options start with window scale 10.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

use scry_os::compute::{Exchange, Reply};
use scry_os::probes::{OsProbe, ProbeSet, SEQ_PROBES};
use scry_packet::{parse_frame, Frame, LinkType, TcpFlags, Transport};

/// A frame with its capture time in microseconds.
struct Captured {
    at_us: i64,
    frame: Frame,
}

fn read_pcap(path: &Path) -> Vec<Captured> {
    let mut capture = pcap::Capture::from_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let link = LinkType::from_dlt(capture.get_datalink().0).expect("a link type scry reads");
    let mut out = Vec::new();
    while let Ok(packet) = capture.next_packet() {
        let ts = packet.header.ts;
        let at_us = ts.tv_sec * 1_000_000 + ts.tv_usec;
        if let Ok(frame) = parse_frame(link, packet.data) {
            out.push(Captured { at_us, frame });
        }
    }
    out
}

fn to_host(frame: &Frame, host: Ipv4Addr) -> bool {
    frame.ip().is_some_and(|ip| ip.header.dst == IpAddr::V4(host))
}

/// nmap's probe set for `target`, recovered from its probes in the capture.
fn probe_set(frames: &[Captured], target: Ipv4Addr) -> ProbeSet {
    let sent: Vec<&Frame> = frames.iter().map(|c| &c.frame).filter(|f| to_host(f, target)).collect();
    let (src, seq0) = sent
        .iter()
        .find_map(|f| {
            let (ip, tcp) = f.tcp()?;
            let first = tcp.flags == TcpFlags::SYN
                && tcp.window == 1
                && tcp.options.as_bytes().starts_with(&[3, 3, 10]);
            first.then_some((ip.src, *tcp))
        })
        .expect("nmap's first SEQ probe in the capture");
    let IpAddr::V4(src) = src else { panic!("IPv4 only") };
    let t5_port = seq0.src_port.wrapping_add(OsProbe::T(5).port_offset().unwrap_or(0));
    let closed_tcp =
        sent.iter().find_map(|f| f.tcp().filter(|(_, t)| t.src_port == t5_port).map(|(_, t)| t.dst_port));
    let (udp_port, closed_udp, udp_ttl) = sent
        .iter()
        .find_map(|f| match f.ip()?.transport {
            Transport::Udp(u) if u.payload.len() == 300 => Some((u.src_port, u.dst_port, f.ip()?.header.ttl)),
            _ => None,
        })
        .expect("nmap's U1 probe in the capture");
    let icmp_id = sent
        .iter()
        .find_map(|f| match f.ip()?.transport {
            Transport::Icmp(i) if i.icmp_type == 8 && i.code == 9 => Some(i.id()),
            _ => None,
        })
        .expect("nmap's IE1 probe in the capture");
    ProbeSet {
        src,
        dst: target,
        open_tcp: Some(seq0.dst_port),
        closed_tcp,
        closed_udp,
        tcp_port_base: seq0.src_port,
        udp_port,
        seq_base: seq0.seq,
        ack: seq0.ack,
        icmp_id,
        ttl: 64,
        udp_ttl,
        ip_id: 0,
    }
}

/// Which of nmap's probes a frame to the target is: TCP by source port,
/// echo requests by id, U1 by its source port.
fn sent_probe(set: &ProbeSet, frame: &Frame) -> Option<OsProbe> {
    if !to_host(frame, set.dst) {
        return None;
    }
    match frame.ip()?.transport {
        Transport::Tcp(tcp) => OsProbe::from_port_offset(tcp.src_port.wrapping_sub(set.tcp_port_base)),
        Transport::Icmp(i) if i.icmp_type == 8 => match i.id().wrapping_sub(set.icmp_id) {
            0 => Some(OsProbe::Ie(0)),
            1 => Some(OsProbe::Ie(1)),
            _ => None,
        },
        Transport::Udp(u) if u.src_port == set.udp_port => Some(OsProbe::U1),
        _ => None,
    }
}

/// The exchange nmap had with `target`, as the capture shows it.
pub fn from_pcap(path: &Path, target: Ipv4Addr) -> Exchange {
    let frames = read_pcap(path);
    let set = probe_set(&frames, target);
    let mut seq_sent_us = [None; SEQ_PROBES];
    let mut sends: Vec<(i64, OsProbe)> = Vec::new();
    for c in &frames {
        if let Some(probe) = sent_probe(&set, &c.frame) {
            if let OsProbe::Seq(i) = probe {
                seq_sent_us[usize::from(i)].get_or_insert(c.at_us);
            }
            sends.push((c.at_us, probe));
        }
    }
    let replies = frames
        .iter()
        .filter_map(|c| {
            let probe = set.classify(&c.frame)?;
            let before = sends.iter().filter(|(at, p)| *p == probe && *at <= c.at_us).count();
            Some(Reply { probe, frame: c.frame, after_resend: before > 1 })
        })
        .collect();
    Exchange {
        set,
        seq_sent_us,
        replies,
        known_distance: Some(1),
        localhost: false,
        closed_tcp_guessed: false,
    }
}
