//! Probe generation cost: patching the SYN template versus building a frame.
//!
//! Run: `cargo bench -p scry-packet --bench template`. Figures go in
//! docs/benchmarks.md.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use scry_packet::{
    build_frame, EthernetSpec, IpSpec, L4Spec, Mac, TcpFlags, TcpOption, TcpProbe, TcpSpec, TcpTemplate,
};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The option layout of nmap's first OS-detection SYN, which scry's scan SYN uses.
const OPTIONS: &[TcpOption<'static>] = &[
    TcpOption::WindowScale(10),
    TcpOption::Nop,
    TcpOption::Mss(1460),
    TcpOption::Timestamp { val: 0xffff_ffff, ecr: 0 },
    TcpOption::SackPermitted,
];

fn specs() -> (EthernetSpec, IpSpec, TcpSpec<'static>) {
    let eth = EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 1]), dst: Mac([2, 0, 0xc6, 0x12, 0, 10]) };
    let ip = IpSpec::new([198, 18, 0, 1].into(), [198, 18, 0, 10].into()).unwrap();
    let tcp =
        TcpSpec { src_port: 40000, flags: TcpFlags::SYN, window: 1, options: OPTIONS, ..TcpSpec::default() };
    (eth, ip, tcp)
}

fn probe(i: u32) -> TcpProbe {
    TcpProbe {
        dst: Ipv4Addr::from(0xc612_0000 | (i & 0x1_ffff)).into(),
        src_port: 40000 + (i & 0xff) as u16,
        dst_port: i as u16,
        seq: i.wrapping_mul(0x9e37_79b9),
        ip_id: i as u16,
    }
}

/// As [`probe`], to an address in 2001:2::/48.
fn probe6(i: u32) -> TcpProbe {
    let dst = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, (i >> 16) as u16 & 1, i as u16);
    TcpProbe { dst: dst.into(), ..probe(i) }
}

fn bench(c: &mut Criterion) {
    let (eth, ip, tcp) = specs();
    let template = TcpTemplate::new(&eth, &ip, &tcp).unwrap();
    let mut group = c.benchmark_group("syn_frame");
    group.throughput(Throughput::Elements(1));
    let mut buf = [0u8; 128];
    let mut i = 0u32;
    group.bench_function("template_patch", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(template.write(&probe(i), &mut buf).unwrap());
        })
    });
    let ip6 = IpSpec::new("2001:2::1".parse().unwrap(), "2001:2::a".parse().unwrap()).unwrap();
    let template6 = TcpTemplate::new(&eth, &ip6, &tcp).unwrap();
    group.bench_function("template_patch_ipv6", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(template6.write(&probe6(i), &mut buf).unwrap());
        })
    });
    group.bench_function("fresh_build", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let p = probe(i);
            let ip = match ip {
                IpSpec::V4(mut h) => {
                    h.dst = match p.dst {
                        std::net::IpAddr::V4(a) => a,
                        std::net::IpAddr::V6(_) => unreachable!(),
                    };
                    h.id = p.ip_id;
                    IpSpec::V4(h)
                }
                v6 => v6,
            };
            let tcp = TcpSpec { src_port: p.src_port, dst_port: p.dst_port, seq: p.seq, ..tcp };
            black_box(build_frame(&eth, &ip, &L4Spec::Tcp(tcp)).unwrap());
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
