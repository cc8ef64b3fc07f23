//! Every capture and socket a scan uses, opened together while the process
//! still has the privilege to, before any reply is parsed; then the process
//! gives its privileges up (`crate::privileges`). Each stage of the scan
//! borrows the handles in turn: ARP, host discovery, each phase, OS
//! detection. One capture serves them all, each stage setting its own BPF
//! filter ([`Receiver::configure`] needs no privilege).

use scry_capture::{ArpHandles, CaptureConfig, Interface, Method, RawSender, Receiver, Sender};
use std::sync::{Arc, Mutex};

/// Above this rate a second sender thread shares the walk. One thread sends
/// about 1.1 Mpps through a TX ring on the lab's veth when it has a core to
/// itself, but only 0.85 Mpps while other work competes (docs/benchmarks.md);
/// a second thread costs nothing at rates it is not needed for.
const ONE_LANE_PPS: f64 = 600_000.0;

/// Bytes kept of each captured frame. libpcap (immediate mode, so
/// TPACKET_V2) gives every frame a fixed slot: the snap length (or the
/// largest frame the interface may hand over, 64 KiB with receive
/// offloads, if less) plus its header, in a block of pages rounded up to a
/// power of two. 65,535 made that a 128 KiB block per reply; 3,968 keeps
/// the slot in one 4 KiB page. Every reply a scan or OS detection reads
/// (SYN-ACKs, resets with their data for RD, ICMP errors with the quoted
/// datagram, UDP answers) fits in an Ethernet MTU, so stays whole; only
/// frames beyond 3,968 bytes (jumbo links) are cut.
pub const SNAPLEN: i32 = 3_968;

/// Capture buffer per reply the scan may draw. One page a reply (the slot
/// above) lost answers in lab_interrupt's scans (ports read as filtered
/// that the same scan found closed, 3 runs in 4), so the budget stays what
/// a 64 KiB slot needs: what a burst of replies can take when libpcap
/// sizes slots by the interface's largest frame instead.
const CAPTURE_PER_REPLY: u64 = 64 << 10;
/// The smallest capture buffer asked for.
const CAPTURE_MIN: u64 = 4 << 20;

/// The capture buffer for a scan that may draw `replies` replies at once:
/// a 64 KiB budget each, between 4 MiB and the default 64 MiB.
/// Allocating (and zeroing) the default's ring, which 64 KiB snap lengths
/// doubled to 128 MiB, took 0.15-0.5 s before the first probe, whatever the
/// scan's size, and was most of a small scan's memory (docs/benchmarks.md).
pub fn capture_bytes(replies: u64) -> i32 {
    let most = u64::try_from(CaptureConfig::default().buffer_size).unwrap_or(CAPTURE_MIN);
    let bytes = replies.saturating_mul(CAPTURE_PER_REPLY).clamp(CAPTURE_MIN, most.max(CAPTURE_MIN));
    i32::try_from(bytes).unwrap_or(i32::MAX)
}

/// What the stages of a scan will need.
pub struct Needs {
    /// The capture's kernel buffer ([`capture_bytes`]).
    pub capture_bytes: i32,
    /// Port-scan senders: the rate (which decides how many threads send)
    /// and the largest probe frame; none for host discovery only.
    pub lanes: Option<(f64, usize)>,
    /// A sender of frames up to this length for host discovery, if it runs.
    pub discovery: Option<usize>,
    /// A raw sender for OS detection (`-O`).
    pub os: bool,
}

/// The handles, once open.
pub struct Wire {
    pub iface: Interface,
    /// Shared with OS detection, which runs from an output sink.
    pub capture: Arc<Mutex<Receiver>>,
    pub lanes: Vec<Sender>,
    pub discovery: Option<Sender>,
    /// ARP's sender.
    pub arp: RawSender,
    /// OS detection's sender, until it takes it.
    pub os: Option<RawSender>,
}

impl Wire {
    /// Opens what `needs` asks for on `iface`.
    ///
    /// # Errors
    /// Missing privileges or a failing interface.
    pub fn open(iface: &Interface, needs: &Needs) -> anyhow::Result<Wire> {
        let config =
            CaptureConfig { snaplen: SNAPLEN, buffer_size: needs.capture_bytes, ..CaptureConfig::default() };
        let capture = Arc::new(Mutex::new(Receiver::open(&iface.name, &config)?));
        let mut lanes = Vec::new();
        if let Some((rate, capacity)) = needs.lanes {
            let first = Sender::open(iface, capacity)?;
            let cores = std::thread::available_parallelism().map_or(1, usize::from);
            let two = matches!(first.method(), Method::Ring { .. }) && rate > ONE_LANE_PPS && cores > 1;
            lanes.push(first);
            if two {
                lanes.push(Sender::open(iface, capacity)?);
            }
        }
        let discovery = needs.discovery.map(|capacity| Sender::open(iface, capacity)).transpose()?;
        let os = needs.os.then(|| RawSender::open(iface)).transpose()?;
        Ok(Wire { iface: iface.clone(), capture, lanes, discovery, arp: RawSender::open(iface)?, os })
    }

    /// Runs `f` with the capture and ARP's sender lent for resolving next hops.
    pub fn with_arp<T>(&mut self, f: impl FnOnce(ArpHandles<'_>) -> T) -> T {
        let mut capture = self.capture.lock().expect("capture lock");
        f(ArpHandles { rx: &mut capture, tx: &mut self.arp })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capture_buffer_follows_the_replies_a_scan_may_draw() {
        assert_eq!(capture_bytes(0), 4 << 20);
        assert_eq!(capture_bytes(64), 4 << 20);
        assert_eq!(capture_bytes(65), 65 << 16);
        assert_eq!(capture_bytes(1000), 1000 << 16);
        assert_eq!(capture_bytes(1024), 64 << 20);
        assert_eq!(capture_bytes(u64::MAX), 64 << 20);
    }
}
