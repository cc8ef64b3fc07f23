//! The TX ring against a real kernel: frames written into ring slots in the
//! lab's scanner namespace arrive at the target byte for byte, each exactly
//! once, however many times the ring wraps.

use scry_capture::{CaptureConfig, Interface, Method, Receiver, Sender, TxRing, RING_FRAMES};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use scry_packet::{build_frame, EthernetSpec, IpSpec, L4Spec, Mac, TcpFlags, TcpSpec};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// More frames than the ring has slots, so every slot is reused.
const FRAMES: usize = 2 * RING_FRAMES + 1234;
/// Frames per flush, as the engine's batches.
const FLUSH_EVERY: usize = 64;
const DST_PORT: u16 = 9;

/// Frame `i`: a SYN whose source port and sequence number are unique to `i`.
fn frame(eth: &EthernetSpec, src: Ipv4Addr, dst: Ipv4Addr, i: usize) -> Vec<u8> {
    let ip = IpSpec::new(src.into(), dst.into()).unwrap();
    let tcp = TcpSpec {
        src_port: 1024 + (i % 60000) as u16,
        dst_port: DST_PORT,
        seq: 0x5eed_0000u32.wrapping_add(i as u32 * 7919),
        flags: TcpFlags::SYN,
        window: 1024,
        ..TcpSpec::default()
    };
    build_frame(eth, &ip, &L4Spec::Tcp(tcp)).unwrap()
}

#[test]
fn every_frame_arrives_once_and_unchanged() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let (scanner, target) = (lab.scanner(), lab.targets()[0].clone());
    let (src, dst) = (scanner.ipv4(), target.ipv4());
    let eth = EthernetSpec { src: Mac(scanner.mac().octets()), dst: Mac(target.mac().octets()) };
    let frames: Vec<Vec<u8>> = (0..FRAMES).map(|i| frame(&eth, src, dst, i)).collect();

    // Capture on the target until told to stop and drained.
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = mpsc::channel();
    let flag = Arc::clone(&stop);
    let capture = std::thread::spawn(move || {
        target
            .run(move || {
                let filter = format!("tcp and src host {src} and dst host {dst} and dst port {DST_PORT}");
                let config = CaptureConfig { filter, snaplen: 256, ..CaptureConfig::default() };
                let mut rx = Receiver::open("eth0", &config).unwrap();
                ready_tx.send(()).unwrap();
                let mut seen = Vec::new();
                loop {
                    if seen.len() == FRAMES || flag.load(Ordering::Acquire) {
                        return (seen, rx.stats().unwrap());
                    }
                    if let Some(f) = rx.next_frame().unwrap() {
                        seen.push(f.data.to_vec());
                    }
                }
            })
            .unwrap()
    });
    ready.recv().unwrap();

    let to_send = frames.clone();
    let stats = scanner
        .run(move || {
            let iface = Interface::by_name("eth0").unwrap();
            let mut ring = TxRing::open(&iface, to_send[0].len()).unwrap();
            assert_eq!(ring.geometry().frames, RING_FRAMES);
            for (i, f) in to_send.iter().enumerate() {
                ring.next_slot().unwrap()[..f.len()].copy_from_slice(f);
                ring.commit(f.len()).unwrap();
                if i % FLUSH_EVERY == FLUSH_EVERY - 1 {
                    ring.flush().unwrap();
                }
            }
            ring.drain().unwrap()
        })
        .unwrap();
    assert_eq!((stats.sent, stats.pending, stats.errors), (FRAMES as u64, 0, 0), "{stats:?}");

    // Every slot came back, so every frame has left the scanner. The
    // capture stops by itself once it holds them all; past the deadline it
    // stops with what it has, and the assertions below say what is missing.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !capture.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Release);
    let (seen, capture_stats) = capture.join().unwrap();
    assert_eq!(capture_stats.dropped, 0, "the target's capture dropped frames");

    let mut expected: BTreeMap<&[u8], usize> = BTreeMap::new();
    for f in &frames {
        *expected.entry(f).or_default() += 1;
    }
    let mut got: BTreeMap<&[u8], usize> = BTreeMap::new();
    for f in &seen {
        *got.entry(f).or_default() += 1;
    }
    assert_eq!(expected.len(), FRAMES, "the test frames are distinct");
    let missing = expected.keys().filter(|f| !got.contains_key(*f)).count();
    let foreign = got.keys().filter(|f| !expected.contains_key(*f)).count();
    let repeated = got.values().filter(|n| **n > 1).count();
    assert_eq!(
        (seen.len(), missing, foreign, repeated),
        (FRAMES, 0, 0, 0),
        "received, missing, foreign, repeated"
    );
}

#[test]
fn sender_takes_the_ring_on_ethernet_and_batches_on_loopback() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new()));
    let methods = lab
        .scanner()
        .run(|| {
            let eth0 = Sender::open(&Interface::by_name("eth0").unwrap(), 74).unwrap().method();
            let lo = Sender::open(&Interface::by_name("lo").unwrap(), 74).unwrap().method();
            let mut short = Sender::open(&Interface::by_name("eth0").unwrap(), 74).unwrap();
            let refused = short.commit(13).unwrap_err().to_string();
            (eth0, lo, refused)
        })
        .unwrap();
    assert!(
        matches!(methods.0, Method::Ring { frames: RING_FRAMES, qdisc_bypass: true, vnet_hdr: true }),
        "{:?}",
        methods.0
    );
    assert_eq!(methods.1, Method::Batched { why: "loopback takes IP packets, not frames".into() });
    assert!(methods.2.contains("a 13-byte frame does not fit"), "{}", methods.2);
}
