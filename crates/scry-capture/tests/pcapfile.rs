//! pcap files written by scry read back byte for byte, in libpcap and tcpdump.

use scry_capture::PcapWriter;
use scry_packet::{build_frame, EthernetSpec, IpSpec, L4Spec, Mac, TcpFlags, TcpSpec};
use std::time::Duration;

fn syn(dst_port: u16) -> Vec<u8> {
    let eth = EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 1]), dst: Mac([2, 0, 0xc6, 0x12, 0, 10]) };
    let ip = IpSpec::new([198, 18, 0, 1].into(), [198, 18, 0, 10].into()).unwrap();
    let tcp = TcpSpec {
        src_port: 40000,
        dst_port,
        seq: 7,
        flags: TcpFlags::SYN,
        window: 1024,
        ..TcpSpec::default()
    };
    build_frame(&eth, &ip, &L4Spec::Tcp(tcp)).unwrap()
}

#[test]
fn frames_read_back_identical() {
    let dir = std::env::temp_dir().join(format!("scry-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("two.pcap");
    let frames = [syn(22), syn(23)];
    let mut writer = PcapWriter::create(&path).unwrap();
    for (i, frame) in frames.iter().enumerate() {
        writer.write(Duration::new(1_700_000_000 + i as u64, 250_000_000), frame);
    }
    writer.flush().unwrap();
    drop(writer);

    let mut capture = pcap::Capture::from_file(&path).unwrap();
    let mut read = Vec::new();
    while let Ok(packet) = capture.next_packet() {
        assert_eq!(packet.header.ts.tv_usec, 250_000);
        read.push(packet.data.to_vec());
    }
    assert_eq!(read, frames);

    // tcpdump is installed by .ci/run; it must read the file too.
    match std::process::Command::new("tcpdump").args(["-nn", "-r"]).arg(&path).output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "tcpdump failed: {}", String::from_utf8_lossy(&out.stderr));
            let lines: Vec<_> = text.lines().collect();
            assert_eq!(lines.len(), 2, "{text}");
            assert!(lines[0].contains("198.18.0.1.40000 > 198.18.0.10.22: Flags [S]"), "{text}");
            assert!(lines[1].contains("198.18.0.1.40000 > 198.18.0.10.23: Flags [S]"), "{text}");
        }
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => eprintln!("skipped tcpdump check: {e}"),
        Err(e) => panic!("tcpdump is required under CI: {e}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
