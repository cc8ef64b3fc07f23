//! First end-to-end proof against a real kernel: from the lab's scanner
//! namespace, SYNs built by scry-packet go out through the raw sender to an
//! open and a closed port of a target; libpcap with a BPF filter brings back
//! the SYN-ACK and the RST, which parse with the right ports, flags and ack.

use scry_capture::{CaptureConfig, Interface, RawSender, Receiver};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use scry_packet::{
    build_frame, parse_frame, EthernetSpec, IpSpec, L4Spec, Mac, TcpFlags, TcpOption, TcpSpec,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const OPEN: u16 = 22;
const CLOSED: u16 = 23;
const SRC_PORT: u16 = 47001;

#[test]
fn syn_to_open_and_closed_port() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[OPEN])));
    let scanner = lab.scanner();
    let target = &lab.targets()[0];
    let (src_ip, dst_ip) = (scanner.ipv4(), target.ipv4());
    let eth = EthernetSpec { src: Mac(scanner.mac().octets()), dst: Mac(target.mac().octets()) };
    let seqs = [(OPEN, 0x1111_0000u32), (CLOSED, 0xffff_ffffu32)];

    let replies = scanner
        .run(move || {
            let iface = Interface::by_name("eth0").unwrap();
            assert_eq!(iface.mac, Some(eth.src), "lab scanner MAC");
            let filter = format!("tcp and src host {dst_ip} and dst host {src_ip} and dst port {SRC_PORT}");
            let config = CaptureConfig { filter, ..CaptureConfig::default() };
            let mut rx = Receiver::open(&iface.name, &config).unwrap();
            let tx = RawSender::open(&iface).unwrap();
            let ip = IpSpec::new(src_ip.into(), dst_ip.into()).unwrap();
            let options = [TcpOption::Mss(1460)];
            let frames: Vec<Vec<u8>> = seqs
                .iter()
                .map(|&(port, seq)| {
                    let tcp = TcpSpec {
                        src_port: SRC_PORT,
                        dst_port: port,
                        seq,
                        flags: TcpFlags::SYN,
                        window: 1024,
                        options: &options,
                        ..TcpSpec::default()
                    };
                    build_frame(&eth, &ip, &L4Spec::Tcp(tcp)).unwrap()
                })
                .collect();
            let batch: Vec<&[u8]> = frames.iter().map(Vec::as_slice).collect();
            assert_eq!(tx.send_batch(&batch).unwrap(), 2);

            let link = rx.link_type();
            let mut replies = BTreeMap::new();
            let deadline = Instant::now() + Duration::from_secs(3);
            while replies.len() < 2 && Instant::now() < deadline {
                if let Some(frame) = rx.next_frame().unwrap() {
                    let parsed = parse_frame(link, frame.data).unwrap();
                    let (ip, tcp) = parsed.tcp().expect("the filter passes only TCP");
                    replies.insert(tcp.src_port, (*ip, *tcp));
                }
            }
            replies
        })
        .unwrap();

    let (ip, syn_ack) = replies.get(&OPEN).expect("no SYN-ACK from the open port");
    assert_eq!((ip.src, ip.dst), (dst_ip.into(), src_ip.into()));
    assert_eq!(syn_ack.dst_port, SRC_PORT);
    assert_eq!(syn_ack.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(syn_ack.ack, seqs[0].1 + 1);
    assert_eq!(syn_ack.options.mss(), Some(1460), "Linux echoes an MSS option");

    let (_, rst) = replies.get(&CLOSED).expect("no RST from the closed port");
    assert_eq!(rst.dst_port, SRC_PORT);
    assert_eq!(rst.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(rst.ack, seqs[1].1.wrapping_add(1), "ack wraps past 2^32");
    assert_eq!(replies.len(), 2);
}
