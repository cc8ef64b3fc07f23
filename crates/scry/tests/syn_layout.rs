//! The port scan's SYN has the layout of nmap's first SEQ probe, so every
//! SYN-ACK it receives is a T1/O1/W1 sample (`scry_os::compute::one_syn_ack`).

use scry_os::probes::{SEQ_OPTIONS, SEQ_WINDOWS};
use scry_packet::{parse_frame, LinkType, Mac, TcpFlags, Transport};
use scry_probe::cookie::CookieKey;
use scry_probe::syn::{SynProbe, SYN_OPTIONS, SYN_WINDOW};
use std::net::{IpAddr, Ipv4Addr};

#[test]
fn scan_syn_has_the_first_seq_probes_window_and_options() {
    assert_eq!(SYN_OPTIONS, SEQ_OPTIONS[0]);
    assert_eq!(SYN_WINDOW, SEQ_WINDOWS[0]);

    // And that is what goes on the wire.
    let src = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
    let syn = SynProbe::new(src, Mac([2, 0, 0, 0, 0, 1]), 40000, 64, CookieKey::from_seed(7)).unwrap();
    let mut buf = vec![0u8; syn.frame_len()];
    let dst = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10));
    let n = syn.write(dst, 22, Mac([2, 0, 0, 0, 0, 2]), 1, &mut buf).unwrap();
    let frame = parse_frame(LinkType::Ethernet, &buf[..n]).unwrap();
    let Transport::Tcp(tcp) = frame.ip().unwrap().transport else { panic!("not TCP") };
    assert_eq!(tcp.window, 1);
    assert_eq!(tcp.flags, TcpFlags::SYN);
    // WS 10, NOP, MSS 1460, TS 0xFFFFFFFF/0, SACK permitted: 20 bytes.
    let options: &[u8] = &[3, 3, 10, 1, 2, 4, 5, 180, 8, 10, 255, 255, 255, 255, 0, 0, 0, 0, 4, 2];
    assert_eq!(tcp.options.as_bytes(), options);
}
