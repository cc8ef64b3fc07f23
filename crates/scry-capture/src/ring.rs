//! Sending through a `PACKET_TX_RING` (packet(7), "Packet MMAP" in the
//! kernel's `Documentation/networking/packet_mmap.rst`): a ring of frame
//! slots shared with the kernel through `mmap`.
//!
//! The caller writes each frame straight into a slot ([`TxRing::next_slot`]),
//! marks it ready ([`TxRing::commit`]), and one `send(MSG_DONTWAIT)`
//! ([`TxRing::flush`]) makes the kernel transmit every ready slot: no copy
//! from user memory and no per-frame system call. The kernel hands a slot
//! back (status `TP_STATUS_AVAILABLE`) once the frame's buffer is freed.
//!
//! TPACKET_V2 layout: each slot starts with a `tpacket2_hdr`; the frame
//! follows at `TPACKET2_HDRLEN - sizeof(sockaddr_ll)` bytes, where the kernel
//! reads it from unless `PACKET_TX_HAS_OFF` is set.
//!
//! **A virtio-net header before each frame** (`PACKET_VNET_HDR`, when the
//! kernel accepts it). Without one, the kernel copies only the link-layer
//! header into the socket buffer and attaches the rest as zero-copy
//! fragments of the ring's pages; a virtual device that passes the buffer on
//! (veth, hence any namespace or container path) must then copy those
//! fragments into freshly allocated pages, a page allocation per frame. The
//! header's `hdr_len`, set to the frame's length, makes the kernel copy the
//! whole small frame into the buffer instead (`tpacket_snd` in
//! net/packet/af_packet.c); no checksum or segmentation offload is asked for.
//!
//! **What is counted.** A slot that comes back available held a frame the
//! kernel transmitted ([`RingStats::sent`]): the ring sets `PACKET_LOSS` so a
//! frame the kernel finds malformed is skipped rather than stopping the
//! ring, and [`TxRing::commit`] refuses lengths the kernel would refuse, so
//! that a skipped frame cannot pass for a sent one. A frame the driver could
//! not queue (`ENOBUFS`, a full socket buffer) stays ready and goes out on
//! the next flush; waiting for a busy slot is a stall ([`RingStats::stalls`]).
//!
//! All `unsafe` of the ring is in this file; the mapping is only ever
//! touched through the slot header's status word (atomically) and the slot's
//! frame bytes (while the status says the slot is ours).

use crate::send::raw_socket;
use crate::{Error, Interface};
use scry_packet::layout::ETHERNET_LEN;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Slots in the ring. At 128-byte slots that is 1 MiB shared with the kernel.
pub const RING_FRAMES: usize = 8192;
/// How long [`TxRing::next_slot`] waits for the kernel to free a slot before
/// it reports the ring as stuck (the interface went down, say).
const STUCK_AFTER: Duration = Duration::from_secs(2);
/// Socket send buffer: frames in flight are charged to it, and a small one
/// makes the kernel stop mid-ring with `EAGAIN`.
const SEND_BUFFER: libc::c_int = 8 << 20;
/// Where the kernel reads a slot's data from.
const DATA_OFFSET: usize = libc::TPACKET2_HDRLEN - std::mem::size_of::<libc::sockaddr_ll>();
/// `struct virtio_net_hdr`: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset.
const VNET_HDR_LEN: usize = 10;
/// Where `hdr_len` (little-endian u16) sits in the virtio-net header.
const VNET_HDR_LEN_AT: usize = 2;

/// The ring's own counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingStats {
    /// Frames the kernel has transmitted (their slots came back).
    pub sent: u64,
    /// Frames committed and not yet seen back.
    pub pending: u64,
    /// Times [`TxRing::next_slot`] found its slot still busy and had to wait.
    pub stalls: u64,
    /// `send` calls that failed with something other than "try again".
    pub errors: u64,
}

/// How the ring is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub frame_size: usize,
    pub frames: usize,
    pub block_size: usize,
    pub blocks: usize,
}

impl Geometry {
    /// A ring of about `frames` slots, each holding a frame of up to
    /// `capacity` bytes after the slot header, in page-sized (or larger) blocks.
    pub fn for_frames(capacity: usize, frames: usize, page: usize) -> Geometry {
        let frame_size = (DATA_OFFSET + capacity).next_power_of_two().max(libc::TPACKET_ALIGNMENT);
        let block_size = frame_size.max(page).next_multiple_of(page);
        let per_block = block_size / frame_size;
        let blocks = frames.div_ceil(per_block).max(1);
        Geometry { frame_size, frames: blocks * per_block, block_size, blocks }
    }

    /// Bytes of the mapping.
    pub fn len(&self) -> usize {
        self.block_size * self.blocks
    }

    /// Whether the ring has no slots (never, for a geometry from [`Geometry::for_frames`]).
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Byte offset of slot `i` in the mapping (slots never straddle blocks).
    fn slot_offset(&self, i: usize) -> usize {
        let per_block = self.block_size / self.frame_size;
        (i / per_block) * self.block_size + (i % per_block) * self.frame_size
    }
}

/// A `PACKET_TX_RING` on one interface.
#[derive(Debug)]
pub struct TxRing {
    fd: OwnedFd,
    iface: String,
    map: *mut u8,
    geometry: Geometry,
    /// Whether each frame follows a virtio-net header (see the module docs).
    vnet_hdr: bool,
    /// Where a frame starts in its slot.
    frame_offset: usize,
    /// Largest frame [`TxRing::commit`] accepts.
    capacity: usize,
    /// The slot [`TxRing::next_slot`] hands out next.
    head: usize,
    /// Committed slots whose return has not been counted yet, oldest first:
    /// `head - pending .. head` (mod frames).
    pending: usize,
    qdisc_bypass: bool,
    stats: RingStats,
    last_error: Option<io::Error>,
}

// SAFETY: the mapping is owned by this value alone (no other handle to it
// exists in the process), so moving it to another thread is sound.
unsafe impl Send for TxRing {}

impl TxRing {
    /// Maps a TX ring on `iface` whose slots take frames of up to `capacity`
    /// bytes (capped at the interface's MTU plus an Ethernet header by the kernel).
    ///
    /// # Errors
    /// [`Error::Privilege`] without CAP_NET_RAW; [`Error::Io`] naming the
    /// step the kernel refused (`PACKET_VERSION`, `PACKET_TX_RING`, `mmap`, `bind`).
    pub fn open(iface: &Interface, capacity: usize) -> Result<TxRing, Error> {
        let io_err = |operation| move |source| Error::Io { operation, iface: iface.name.clone(), source };
        let operation = "opening an AF_PACKET socket for a TX ring";
        let fd = raw_socket(iface, libc::AF_PACKET, 0, operation)?;
        let version = libc::tpacket_versions::TPACKET_V2 as libc::c_int;
        setsockopt(&fd, libc::PACKET_VERSION, &version)
            .map_err(io_err("setting PACKET_VERSION to TPACKET_V2"))?;
        setsockopt(&fd, libc::PACKET_LOSS, &1).map_err(io_err("setting PACKET_LOSS"))?;
        // Optional: without it the frames take the qdisc, as sendmmsg's do.
        let qdisc_bypass = setsockopt(&fd, libc::PACKET_QDISC_BYPASS, &1).is_ok();
        // Optional, and only possible before the ring exists: without it
        // frames go out as zero-copy fragments (see the module docs).
        let vnet_hdr = setsockopt(&fd, libc::PACKET_VNET_HDR, &1).is_ok();
        // Optional: the default buffer only slows sending down with EAGAIN.
        let _ = setsockopt_level(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &SEND_BUFFER);

        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        let geometry = Geometry::for_frames(VNET_HDR_LEN + capacity, RING_FRAMES, page);
        let frame_offset = DATA_OFFSET + if vnet_hdr { VNET_HDR_LEN } else { 0 };
        let req = libc::tpacket_req {
            tp_block_size: geometry.block_size as u32,
            tp_block_nr: geometry.blocks as u32,
            tp_frame_size: geometry.frame_size as u32,
            tp_frame_nr: geometry.frames as u32,
        };
        setsockopt(&fd, libc::PACKET_TX_RING, &req).map_err(io_err("setting up PACKET_TX_RING"))?;
        // SAFETY: maps the ring the kernel just allocated for this socket;
        // the result is checked, and unmapped in Drop.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                geometry.len(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io_err("mapping the TX ring")(io::Error::last_os_error()));
        }
        let ring = TxRing {
            fd,
            iface: iface.name.clone(),
            map: map.cast(),
            geometry,
            vnet_hdr,
            frame_offset,
            capacity: geometry.frame_size - frame_offset,
            head: 0,
            pending: 0,
            qdisc_bypass,
            stats: RingStats::default(),
            last_error: None,
        };
        // Protocol 0: the socket sends only; no received traffic is queued on it.
        let ifindex = i32::try_from(iface.index).map_err(|_| Error::NoSuchInterface(iface.name.clone()))?;
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = ifindex;
        // SAFETY: `addr` is a valid sockaddr_ll for the duration of the call.
        let rc = unsafe {
            libc::bind(
                ring.fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if rc != 0 {
            return Err(io_err("binding the TX ring socket")(io::Error::last_os_error()));
        }
        Ok(ring)
    }

    /// The interface the ring sends on.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// How the ring is laid out.
    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The largest frame a slot holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether the kernel accepted `PACKET_QDISC_BYPASS` (frames skip the
    /// interface's queueing discipline and go straight to the driver).
    pub fn qdisc_bypass(&self) -> bool {
        self.qdisc_bypass
    }

    /// Whether the kernel accepted `PACKET_VNET_HDR`, so that it copies each
    /// frame whole rather than as fragments of the ring (see the module docs).
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// The counters so far; frames still in the kernel count as pending.
    pub fn stats(&self) -> RingStats {
        RingStats { pending: self.pending as u64, ..self.stats }
    }

    /// The next free slot, [`TxRing::capacity`] bytes long, to write a frame
    /// into. When the kernel still holds it, flushes and waits (a stall).
    ///
    /// # Errors
    /// [`Error::Io`] when no slot came back for two seconds, with the last
    /// error `send` gave.
    pub fn next_slot(&mut self) -> Result<&mut [u8], Error> {
        if self.pending == self.geometry.frames {
            self.reclaim_oldest()?;
        }
        let start = self.slot_start(self.head);
        // SAFETY: the slot lies inside the mapping; it is free (every
        // committed slot is reclaimed before `head` reaches it again), so the
        // kernel does not touch its bytes until it is committed, and the
        // borrow of `self` keeps a second slice from being handed out.
        Ok(unsafe { std::slice::from_raw_parts_mut(start.add(self.frame_offset), self.capacity) })
    }

    /// Hands the slot from [`TxRing::next_slot`], holding a frame of `len`
    /// bytes, to the kernel; it goes out on the next [`TxRing::flush`].
    ///
    /// # Errors
    /// [`Error::Io`] (`InvalidInput`) for a length shorter than an Ethernet
    /// header or longer than a slot; the slot stays free.
    pub fn commit(&mut self, len: usize) -> Result<(), Error> {
        if !(ETHERNET_LEN..=self.capacity).contains(&len) {
            return Err(Error::Io {
                operation: "queueing a frame on the TX ring",
                iface: self.iface.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("a {len}-byte frame does not fit a {}-byte slot", self.capacity),
                ),
            });
        }
        let header = self.header(self.head);
        let mut tp_len = len;
        if self.vnet_hdr {
            let mut vnet = [0u8; VNET_HDR_LEN];
            vnet[VNET_HDR_LEN_AT..VNET_HDR_LEN_AT + 2].copy_from_slice(&(len as u16).to_le_bytes());
            // SAFETY: the header lies in this free slot, before the frame
            // (frame_offset = DATA_OFFSET + VNET_HDR_LEN); the kernel ignores
            // the slot until its status says SEND_REQUEST.
            unsafe {
                let at = self.slot_start(self.head).add(DATA_OFFSET);
                std::ptr::copy_nonoverlapping(vnet.as_ptr(), at, VNET_HDR_LEN);
            }
            tp_len += VNET_HDR_LEN;
        }
        // SAFETY: `header` points at this free slot's tpacket2_hdr inside the
        // mapping; the kernel ignores a slot until its status says SEND_REQUEST.
        unsafe { std::ptr::addr_of_mut!((*header).tp_len).write_volatile(tp_len as u32) };
        // Release: the frame bytes and length are visible before the status.
        self.status(self.head).store(libc::TP_STATUS_SEND_REQUEST, Ordering::Release);
        self.head = (self.head + 1) % self.geometry.frames;
        self.pending += 1;
        Ok(())
    }

    /// Asks the kernel to transmit every committed slot. "Try again" answers
    /// (`ENOBUFS`, `EAGAIN`) are not errors: those frames stay queued for the
    /// next flush.
    ///
    /// # Errors
    /// [`Error::Io`] for any other `send` failure (also counted in
    /// [`RingStats::errors`]); the frames stay queued.
    pub fn flush(&mut self) -> Result<(), Error> {
        if self.pending == 0 {
            return Ok(());
        }
        // SAFETY: a zero-length send with no buffer; the kernel reads the ring.
        let rc = unsafe { libc::send(self.fd.as_raw_fd(), std::ptr::null(), 0, libc::MSG_DONTWAIT) };
        // Count what the kernel has sent by now, so that [`TxRing::stats`]
        // keeps up while the ring is far from full (progress reads it).
        self.reclaim_done();
        if rc >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ENOBUFS | libc::EAGAIN | libc::EINTR) => {
                self.last_error = Some(err);
                Ok(())
            }
            _ => {
                self.stats.errors += 1;
                let copy = io::Error::new(err.kind(), err.to_string());
                self.last_error = Some(err);
                Err(Error::Io { operation: "sending the TX ring", iface: self.iface.clone(), source: copy })
            }
        }
    }

    /// Flushes and waits until the kernel has handed back every slot.
    ///
    /// # Errors
    /// As [`TxRing::flush`], or when the ring is stuck (see [`TxRing::next_slot`]).
    pub fn drain(&mut self) -> Result<RingStats, Error> {
        self.flush()?;
        while self.pending > 0 {
            self.reclaim_oldest()?;
        }
        Ok(self.stats())
    }

    /// Counts the committed slots, oldest first, that the kernel has
    /// already handed back; waits for none.
    fn reclaim_done(&mut self) {
        while self.pending > 0 {
            let oldest = (self.head + self.geometry.frames - self.pending) % self.geometry.frames;
            // Acquire: the kernel is done with the slot before we reuse it.
            if self.status(oldest).load(Ordering::Acquire) != libc::TP_STATUS_AVAILABLE {
                return;
            }
            self.pending -= 1;
            self.stats.sent += 1;
        }
    }

    /// Waits for the oldest committed slot to come back and counts it,
    /// flushing so that the kernel keeps transmitting meanwhile.
    fn reclaim_oldest(&mut self) -> Result<(), Error> {
        let oldest = (self.head + self.geometry.frames - self.pending) % self.geometry.frames;
        let mut since: Option<Instant> = None;
        loop {
            // Acquire: the kernel is done with the slot before we reuse it.
            if self.status(oldest).load(Ordering::Acquire) == libc::TP_STATUS_AVAILABLE {
                self.pending -= 1;
                self.stats.sent += 1;
                return Ok(());
            }
            let first = *since.get_or_insert_with(|| {
                self.stats.stalls += 1;
                Instant::now()
            });
            if first.elapsed() > STUCK_AFTER {
                let last = self.last_error.as_ref().map_or_else(|| "none".to_owned(), ToString::to_string);
                return Err(Error::Io {
                    operation: "waiting for the TX ring",
                    iface: self.iface.clone(),
                    source: io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("the kernel sent no frame for {STUCK_AFTER:?} (last send error: {last})"),
                    ),
                });
            }
            self.flush()?;
            if self.status(oldest).load(Ordering::Acquire) != libc::TP_STATUS_AVAILABLE {
                self.wait_writable();
            }
        }
    }

    /// Sleeps in `poll` until the kernel frees a slot, at most a millisecond.
    fn wait_writable(&self) {
        let mut fds = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLOUT, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut fds, 1, 1) };
    }

    fn slot_start(&self, i: usize) -> *mut u8 {
        // SAFETY: slot_offset(i) + frame_size <= len() for i < frames.
        unsafe { self.map.add(self.geometry.slot_offset(i)) }
    }

    fn header(&self, i: usize) -> *mut libc::tpacket2_hdr {
        self.slot_start(i).cast()
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: the status word is the first, 4-byte aligned field of the
        // slot header (slots are 16-byte aligned in a page-aligned mapping);
        // the kernel and we both access it only as a whole u32, and it lives
        // as long as the mapping, which outlives `&self`.
        unsafe { AtomicU32::from_ptr(std::ptr::addr_of_mut!((*self.header(i)).tp_status)) }
    }
}

impl Drop for TxRing {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`; nothing borrows it now.
        unsafe { libc::munmap(self.map.cast(), self.geometry.len()) };
    }
}

fn setsockopt<T>(fd: &OwnedFd, option: libc::c_int, value: &T) -> io::Result<()> {
    setsockopt_level(fd, libc::SOL_PACKET, option, value)
}

fn setsockopt_level<T>(fd: &OwnedFd, level: libc::c_int, option: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` is a valid `T` of the size passed, for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            option,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_start_after_the_v2_header() {
        assert_eq!(DATA_OFFSET, 32);
        assert_eq!(std::mem::size_of::<libc::tpacket2_hdr>(), 32);
    }

    #[test]
    fn slots_fit_the_frame_and_never_straddle_blocks() {
        let g = Geometry::for_frames(74, RING_FRAMES, 4096);
        assert_eq!((g.frame_size, g.block_size, g.frames, g.blocks), (128, 4096, 8192, 256));
        assert_eq!(g.len(), 1 << 20);
        assert_eq!(g.slot_offset(31), 31 * 128);
        assert_eq!(g.slot_offset(32), 4096);

        // A full-size frame: 2048-byte slots, two per page.
        let g = Geometry::for_frames(1514, 100, 4096);
        assert_eq!((g.frame_size, g.block_size, g.frames, g.blocks), (2048, 4096, 100, 50));
        // Slots larger than a page get blocks of their own size.
        let g = Geometry::for_frames(9000, 3, 4096);
        assert_eq!((g.frame_size, g.block_size, g.frames, g.blocks), (16384, 16384, 3, 3));
        for i in 0..g.frames {
            assert!(g.slot_offset(i) + g.frame_size <= g.len());
        }
    }
}
