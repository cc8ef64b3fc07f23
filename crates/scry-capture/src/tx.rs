//! One sending interface over both ways of sending: a [`TxRing`] where the
//! kernel sets one up, otherwise batches through [`RawSender`]'s `sendmmsg`
//! (always on loopback, whose frames must become IP packets first).
//!
//! Either way the caller writes each frame in place: [`Sender::next_slot`],
//! [`Sender::commit`], and [`Sender::flush`] after a batch. The ring hands out
//! its own slots; the fallback stages up to [`MAX_BATCH`] frames in a buffer
//! and sends them with one `sendmmsg` when the buffer fills or on flush.

use crate::ring::{RingStats, TxRing};
use crate::send::{RawSender, MAX_BATCH};
use crate::{Error, Interface};
use std::fmt;
use std::time::Duration;

/// How often the fallback retries a batch the kernel will not take before
/// counting its frames as failed.
const MAX_ATTEMPTS: u32 = 100;
/// Pause between such retries.
const RETRY_PAUSE: Duration = Duration::from_micros(50);

/// What a sender has sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendStats {
    /// Frames the kernel took.
    pub sent: u64,
    /// Frames given up on after the kernel refused them [`MAX_ATTEMPTS`] times
    /// (only the `sendmmsg` fallback gives up; the ring retries or reports
    /// itself stuck).
    pub failed: u64,
    /// Send calls that failed with an error other than "try again".
    pub errors: u64,
    /// Times the sender had to wait for the kernel: a busy ring slot, or a
    /// batch the kernel took only part of.
    pub stalls: u64,
}

/// How a [`Sender`] sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Method {
    /// A `PACKET_TX_RING` of `frames` slots.
    Ring { frames: usize, qdisc_bypass: bool, vnet_hdr: bool },
    /// `sendmmsg` batches, and why not a ring.
    Batched { why: String },
    /// Frames are built and counted, never sent (`--offline`).
    Discard,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::Ring { frames, qdisc_bypass, vnet_hdr } => {
                let on = |yes: bool| if yes { "on" } else { "refused by the kernel" };
                write!(
                    f,
                    "PACKET_TX_RING of {frames} frames, qdisc bypass {}, virtio-net header {}",
                    on(*qdisc_bypass),
                    on(*vnet_hdr)
                )
            }
            Method::Batched { why } => write!(f, "sendmmsg in batches of {MAX_BATCH} ({why})"),
            Method::Discard => f.write_str("offline: frames are built and counted, not sent"),
        }
    }
}

/// Sends frames written in place; see the module docs.
#[derive(Debug)]
pub struct Sender {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Ring(TxRing),
    Batched(Batcher),
    /// One slot, overwritten by every frame.
    Discard {
        slot: Vec<u8>,
        stats: SendStats,
    },
}

impl Sender {
    /// A sender on `iface` for frames of up to `capacity` bytes: a TX ring,
    /// or `sendmmsg` batches when the ring cannot be set up or `iface` is a
    /// loopback interface ([`Sender::method`] says which, and why).
    ///
    /// # Errors
    /// [`Error::Privilege`] without CAP_NET_RAW; [`Error::NoSuchInterface`].
    pub fn open(iface: &Interface, capacity: usize) -> Result<Sender, Error> {
        if iface.is_loopback {
            return Sender::batched(iface, capacity, "loopback takes IP packets, not frames".into());
        }
        match TxRing::open(iface, capacity) {
            Ok(ring) => Ok(Sender { inner: Inner::Ring(ring) }),
            Err(err @ Error::Privilege { .. }) => Err(err),
            Err(err) => Sender::batched(iface, capacity, format!("no TX ring: {err}")),
        }
    }

    /// A sender that uses `sendmmsg` batches, noting `why`.
    ///
    /// # Errors
    /// As [`RawSender::open`].
    pub fn batched(iface: &Interface, capacity: usize, why: String) -> Result<Sender, Error> {
        let raw = RawSender::open(iface)?;
        let batcher = Batcher {
            raw,
            capacity,
            buf: vec![0; capacity * MAX_BATCH],
            lens: Vec::with_capacity(MAX_BATCH),
            stats: SendStats::default(),
            why,
        };
        Ok(Sender { inner: Inner::Batched(batcher) })
    }

    /// A sender that sends nothing: every frame is written into one slot
    /// and counted as sent. Needs no privilege and no interface; it measures
    /// what generation alone costs (as masscan's `--offline`).
    pub fn discard(capacity: usize) -> Sender {
        Sender { inner: Inner::Discard { slot: vec![0; capacity], stats: SendStats::default() } }
    }

    /// How this sender sends.
    pub fn method(&self) -> Method {
        match &self.inner {
            Inner::Ring(ring) => Method::Ring {
                frames: ring.geometry().frames,
                qdisc_bypass: ring.qdisc_bypass(),
                vnet_hdr: ring.vnet_hdr(),
            },
            Inner::Batched(b) => Method::Batched { why: b.why.clone() },
            Inner::Discard { .. } => Method::Discard,
        }
    }

    /// Room for the next frame, at least the `capacity` asked for at open.
    ///
    /// # Errors
    /// The ring is stuck (no slot came back for seconds).
    pub fn next_slot(&mut self) -> Result<&mut [u8], Error> {
        match &mut self.inner {
            Inner::Ring(ring) => ring.next_slot(),
            Inner::Batched(b) => {
                if b.lens.len() == MAX_BATCH {
                    b.send();
                }
                let at = b.lens.len() * b.capacity;
                Ok(&mut b.buf[at..at + b.capacity])
            }
            Inner::Discard { slot, .. } => Ok(slot),
        }
    }

    /// Queues the frame of `len` bytes just written into [`Sender::next_slot`].
    ///
    /// # Errors
    /// A length the slot cannot hold (or, on the ring, shorter than an
    /// Ethernet header); nothing is queued.
    pub fn commit(&mut self, len: usize) -> Result<(), Error> {
        match &mut self.inner {
            Inner::Ring(ring) => ring.commit(len),
            Inner::Batched(b) => {
                if len > b.capacity {
                    return Err(Error::Io {
                        operation: "queueing a frame",
                        iface: b.raw_iface(),
                        source: std::io::Error::new(
                            std::io::ErrorKind::InvalidInput,
                            format!("a {len}-byte frame does not fit a {}-byte slot", b.capacity),
                        ),
                    });
                }
                b.lens.push(len);
                Ok(())
            }
            Inner::Discard { stats, .. } => {
                stats.sent += 1;
                Ok(())
            }
        }
    }

    /// Hands everything queued to the kernel. Failures are counted in
    /// [`Sender::stats`], not returned: the ring keeps failed frames for the
    /// next flush, the fallback retries and then gives up on them.
    pub fn flush(&mut self) {
        match &mut self.inner {
            Inner::Ring(ring) => {
                // Counted in the ring's stats; the frames stay queued.
                let _ = ring.flush();
            }
            Inner::Batched(b) => b.send(),
            Inner::Discard { .. } => {}
        }
    }

    /// Sends everything queued and waits until the kernel has taken it all.
    ///
    /// # Errors
    /// The ring is stuck.
    pub fn finish(&mut self) -> Result<SendStats, Error> {
        match &mut self.inner {
            Inner::Ring(ring) => ring.drain().map(ring_stats),
            Inner::Batched(b) => {
                b.send();
                Ok(b.stats)
            }
            Inner::Discard { stats, .. } => Ok(*stats),
        }
    }

    /// The counters so far (on the ring, frames still in the kernel are not
    /// yet counted as sent; [`Sender::finish`] waits for them).
    pub fn stats(&self) -> SendStats {
        match &self.inner {
            Inner::Ring(ring) => ring_stats(ring.stats()),
            Inner::Batched(b) => b.stats,
            Inner::Discard { stats, .. } => *stats,
        }
    }
}

fn ring_stats(s: RingStats) -> SendStats {
    SendStats { sent: s.sent, failed: 0, errors: s.errors, stalls: s.stalls }
}

/// The fallback: frames staged back to back, `capacity` bytes apart.
#[derive(Debug)]
struct Batcher {
    raw: RawSender,
    capacity: usize,
    buf: Vec<u8>,
    lens: Vec<usize>,
    stats: SendStats,
    why: String,
}

impl Batcher {
    fn raw_iface(&self) -> String {
        self.raw.iface().to_owned()
    }

    /// Sends the staged frames, retrying while the kernel's queue is full.
    fn send(&mut self) {
        let mut frames = [&[][..]; MAX_BATCH];
        for (i, len) in self.lens.iter().enumerate() {
            frames[i] = &self.buf[i * self.capacity..i * self.capacity + len];
        }
        let mut left = &frames[..self.lens.len()];
        let mut attempts = 0;
        while !left.is_empty() {
            match self.raw.send_batch(left) {
                Ok(sent) => {
                    self.stats.sent += sent as u64;
                    left = &left[sent..];
                    if !left.is_empty() {
                        self.stats.stalls += 1;
                    }
                    if sent == 0 {
                        attempts += 1;
                    }
                }
                Err(_) => {
                    attempts += 1;
                    self.stats.errors += 1;
                    std::thread::sleep(RETRY_PAUSE);
                }
            }
            if attempts > MAX_ATTEMPTS {
                self.stats.failed += left.len() as u64;
                break;
            }
        }
        self.lens.clear();
    }
}
