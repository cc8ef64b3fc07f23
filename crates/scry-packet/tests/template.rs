//! Property test: a patched template frame equals a freshly built frame.

use proptest::prelude::*;
use scry_packet::{
    build_frame, EthernetSpec, IpSpec, Ipv4Spec, Ipv6Spec, L4Spec, Mac, TcpFlags, TcpOption, TcpProbe,
    TcpSpec, TcpTemplate,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const OPTIONS: &[TcpOption<'static>] = &[
    TcpOption::WindowScale(10),
    TcpOption::Nop,
    TcpOption::Mss(1460),
    TcpOption::Timestamp { val: 0xffff_ffff, ecr: 0 },
    TcpOption::SackPermitted,
];

fn eth() -> EthernetSpec {
    EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 1]), dst: Mac([2, 0, 0xc6, 0x12, 0, 10]) }
}

fn with_dst(ip: &IpSpec, dst: IpAddr, id: u16) -> IpSpec {
    match (*ip, dst) {
        (IpSpec::V4(h), IpAddr::V4(dst)) => IpSpec::V4(Ipv4Spec { dst, id, ..h }),
        (IpSpec::V6(h), IpAddr::V6(dst)) => IpSpec::V6(Ipv6Spec { dst, ..h }),
        _ => unreachable!("strategies keep versions equal"),
    }
}

fn ip_and_dst() -> impl Strategy<Value = (IpSpec, IpAddr)> {
    let v4 = (
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<u8>(),
        any::<u16>(),
        any::<bool>(),
        any::<u8>(),
        any::<[u8; 4]>(),
    )
        .prop_map(|(src, dst, ttl, id, df, tos, new)| {
            let spec = Ipv4Spec { src: src.into(), dst: dst.into(), ttl, id, df, tos };
            (IpSpec::V4(spec), IpAddr::V4(Ipv4Addr::from(new)))
        });
    let v6 =
        (any::<[u8; 16]>(), any::<[u8; 16]>(), any::<u8>(), any::<u8>(), any::<u32>(), any::<[u8; 16]>())
            .prop_map(|(src, dst, hop_limit, traffic_class, flow, new)| {
                let spec = Ipv6Spec {
                    src: src.into(),
                    dst: dst.into(),
                    hop_limit,
                    traffic_class,
                    flow_label: flow & 0xf_ffff,
                };
                (IpSpec::V6(spec), IpAddr::V6(Ipv6Addr::from(new)))
            });
    prop_oneof![v4, v6]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn patched_equals_fresh(
        (ip, new_dst) in ip_and_dst(),
        base in (any::<u16>(), any::<u16>(), any::<u32>()),
        probe in (any::<u16>(), any::<u16>(), any::<u32>(), any::<u16>()),
        window in any::<u16>(),
        options_len in 0..=OPTIONS.len(),
        flags in any::<u8>(),
    ) {
        let tcp = TcpSpec {
            src_port: base.0, dst_port: base.1, seq: base.2, flags: TcpFlags(flags), window,
            options: &OPTIONS[..options_len], ..TcpSpec::default()
        };
        let template = TcpTemplate::new(&eth(), &ip, &tcp).unwrap();
        let p = TcpProbe { dst: new_dst, src_port: probe.0, dst_port: probe.1, seq: probe.2, ip_id: probe.3 };
        let mut buf = [0u8; 128];
        let n = template.write(&p, &mut buf).unwrap();

        let fresh_tcp = TcpSpec { src_port: p.src_port, dst_port: p.dst_port, seq: p.seq, ..tcp };
        let fresh = build_frame(&eth(), &with_dst(&ip, new_dst, p.ip_id), &L4Spec::Tcp(fresh_tcp)).unwrap();
        prop_assert_eq!(&buf[..n], &fresh[..]);
    }

    #[test]
    fn patched_with_ack_equals_fresh(
        (ip, new_dst) in ip_and_dst(),
        base in (any::<u32>(), any::<u32>()),
        probe in (any::<u16>(), any::<u16>(), any::<u32>(), any::<u16>(), any::<u32>()),
        flags in any::<u8>(),
    ) {
        let tcp = TcpSpec { seq: base.0, ack: base.1, flags: TcpFlags(flags), ..TcpSpec::default() };
        let template = TcpTemplate::new(&eth(), &ip, &tcp).unwrap();
        let p = TcpProbe { dst: new_dst, src_port: probe.0, dst_port: probe.1, seq: probe.2, ip_id: probe.3 };
        let mut buf = [0u8; 128];
        let n = template.write_with_ack(&p, probe.4, &mut buf).unwrap();

        let fresh_tcp = TcpSpec { src_port: p.src_port, dst_port: p.dst_port, seq: p.seq, ack: probe.4, ..tcp };
        let fresh = build_frame(&eth(), &with_dst(&ip, new_dst, p.ip_id), &L4Spec::Tcp(fresh_tcp)).unwrap();
        prop_assert_eq!(&buf[..n], &fresh[..]);
    }
}

#[test]
fn wrong_version_is_an_error_not_a_bad_frame() {
    let ip = IpSpec::new([198, 18, 0, 1].into(), [198, 18, 0, 10].into()).unwrap();
    let template = TcpTemplate::new(&eth(), &ip, &TcpSpec::default()).unwrap();
    let probe = TcpProbe { dst: "2001:2::10".parse().unwrap(), src_port: 1, dst_port: 2, seq: 3, ip_id: 4 };
    assert!(template.write(&probe, &mut [0u8; 128]).is_err());
}
