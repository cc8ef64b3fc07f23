//! Probe generation cost, stage by stage and as one pipeline:
//! position -> permutation -> (address, port) -> cookie -> patched SYN frame.
//!
//! Run: `cargo bench -p scry-probe --bench generate -- --warm-up-time 1 --measurement-time 3`.
//! Each iteration makes `BATCH` probes, so criterion's time divided by `BATCH`
//! is ns/probe and its throughput is probes/s. Figures go in docs/benchmarks.md.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use scry_packet::{EthernetSpec, IpSpec, Mac, TcpFlags, TcpProbe, TcpSpec, TcpTemplate};
use scry_probe::cookie::{CookieKey, ProbeKind};
use scry_probe::permute::Permutation;
use std::net::Ipv4Addr;

const BATCH: u64 = 1024;
/// 198.18.0.0/15 (RFC 2544 benchmarking space): 2^17 addresses.
const NETWORK: u32 = 0xc612_0000;
const ADDRESSES: u64 = 1 << 17;
const PORT_COUNT: u16 = 1000;
const SOURCE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SOURCE_PORT: u16 = 40000;

fn template() -> TcpTemplate {
    let eth = EthernetSpec { src: Mac([2, 0, 0xc6, 0x12, 0, 1]), dst: Mac([2, 0, 0xc6, 0x12, 0, 10]) };
    let ip = IpSpec::new(SOURCE.into(), Ipv4Addr::new(198, 18, 0, 10).into()).unwrap();
    let tcp = TcpSpec {
        src_port: SOURCE_PORT,
        flags: TcpFlags::SYN,
        window: 1024,
        options: scry_probe::syn::SYN_OPTIONS,
        ..TcpSpec::default()
    };
    TcpTemplate::new(&eth, &ip, &tcp).unwrap()
}

/// Target index -> (address, port), address-major like masscan: consecutive
/// indexes are different hosts on one port.
#[inline]
fn split(index: u64, ports: &[u16]) -> (Ipv4Addr, u16) {
    let address = Ipv4Addr::from(NETWORK | (index % ADDRESSES) as u32);
    (address, ports[(index / ADDRESSES) as usize])
}

fn bench_permute(c: &mut Criterion) {
    let mut group = c.benchmark_group("permute");
    group.throughput(Throughput::Elements(BATCH));
    let sizes = [
        ("scan_131M", ADDRESSES * u64::from(PORT_COUNT)),
        ("pow2_2^32", 1 << 32),
        ("worst_2^32+1", (1 << 32) + 1),
        ("pow2_2^48", 1 << 48),
    ];
    for (name, n) in sizes {
        let permutation = Permutation::new(n, 0x5eed);
        let mut position = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    black_box(permutation.at(position));
                    position = if position + 1 == n { 0 } else { position + 1 };
                }
            })
        });
    }
    group.finish();
}

fn bench_stages(c: &mut Criterion) {
    let ports: Vec<u16> = (1..=PORT_COUNT).collect();
    let n = ADDRESSES * u64::from(PORT_COUNT);
    let key = CookieKey::from_seed(7);
    let template = template();
    let mut frame = [0u8; 128];
    let mut group = c.benchmark_group("stage");
    group.throughput(Throughput::Elements(BATCH));

    let mut index = 0u64;
    group.bench_function("split", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                // A Weyl sequence stands in for permuted indexes.
                index = (index + 0x9e37_79b9) % n;
                black_box(split(black_box(index), &ports));
            }
        })
    });
    let mut i = 0u32;
    group.bench_function("cookie_v4", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                i = i.wrapping_add(1);
                let dst = Ipv4Addr::from(NETWORK | (i & 0x1_ffff));
                black_box(key.cookie_v4(SOURCE, dst, SOURCE_PORT, i as u16, ProbeKind::TCP_SYN));
            }
        })
    });
    group.bench_function("template_write", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                i = i.wrapping_add(1);
                let dst = Ipv4Addr::from(NETWORK | (i & 0x1_ffff)).into();
                let probe =
                    TcpProbe { dst, src_port: SOURCE_PORT, dst_port: i as u16, seq: i, ip_id: i as u16 };
                black_box(template.write(&probe, &mut frame).unwrap());
            }
        })
    });

    // 1000 ports make n = 131M, just under 2^27 (little cycle walking); 1025
    // ports make n just over 2^27, the worst case (about two Feistel evaluations).
    for (name, port_count) in [("pipeline", PORT_COUNT), ("pipeline_worst_n", 1025)] {
        let ports: Vec<u16> = (1..=port_count).collect();
        let n = ADDRESSES * u64::from(port_count);
        let permutation = Permutation::new(n, 0x5eed);
        let mut position = 0u64;
        group.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    let (dst, dst_port) = split(permutation.at(position), &ports);
                    let seq = key.cookie_v4(SOURCE, dst, SOURCE_PORT, dst_port, ProbeKind::TCP_SYN);
                    // masscan's IP ID: the target's address and port xored with the cookie.
                    let ip_id = (u32::from(dst) ^ u32::from(dst_port) ^ seq) as u16;
                    let probe = TcpProbe { dst: dst.into(), src_port: SOURCE_PORT, dst_port, seq, ip_id };
                    black_box(template.write(&probe, &mut frame).unwrap());
                    position = if position + 1 == n { 0 } else { position + 1 };
                }
            })
        });
    }
    group.finish();
}

/// Whole probes through the `Probe` trait, as the engine writes them: the
/// SYN probe, and the flag probes without (FIN) and with (ACK) the ack patch.
fn bench_probes(c: &mut Criterion) {
    use scry_probe::probe::Probe;
    use scry_probe::tcpscan::{FlagProbe, TcpScan, TcpScanSpec};
    let mac = Mac([2, 0, 0xc6, 0x12, 0, 1]);
    let key = CookieKey::from_seed(7);
    let syn = scry_probe::syn::SynProbe::new(SOURCE.into(), mac, SOURCE_PORT, 64, key.clone()).unwrap();
    let flags = |scan| {
        let spec = TcpScanSpec { scan, scanflags: None };
        FlagProbe::new(SOURCE.into(), mac, SOURCE_PORT, 64, key.clone(), spec).unwrap()
    };
    let probes: [(&str, Box<dyn Probe>); 3] = [
        ("syn", Box::new(syn)),
        ("fin", Box::new(flags(TcpScan::Fin))),
        ("ack", Box::new(flags(TcpScan::Ack))),
    ];
    let mut frame = [0u8; 128];
    let mut group = c.benchmark_group("probe");
    group.throughput(Throughput::Elements(BATCH));
    for (name, probe) in &probes {
        let mut i = 0u32;
        group.bench_function(*name, |b| {
            b.iter(|| {
                for _ in 0..BATCH {
                    i = i.wrapping_add(1);
                    let dst = Ipv4Addr::from(NETWORK | (i & 0x1_ffff)).into();
                    black_box(probe.write(dst, i as u16, 0, mac, i as u16, &mut frame).unwrap());
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_permute, bench_stages, bench_probes);
criterion_main!(benches);
