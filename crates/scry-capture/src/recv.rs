//! Receiving through libpcap with a BPF filter.
//!
//! Opened in immediate mode with a generous kernel buffer: with a default,
//! buffered capture replies arrive late in bursts and are silently dropped
//! under load. Drop counters are exposed so callers can report them.

use crate::error::is_permission;
use crate::Error;
use pcap::{Active, Capture, Direction};
use scry_packet::LinkType;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// How to open a capture.
#[derive(Clone, Debug)]
pub struct CaptureConfig {
    /// BPF filter in pcap-filter(7) syntax; empty captures everything.
    pub filter: String,
    /// Kernel buffer size in bytes.
    pub buffer_size: i32,
    /// Bytes kept of each frame: enough for headers, options and the packet
    /// quoted in an ICMP error.
    pub snaplen: i32,
    /// How long [`Receiver::next_frame`] waits for a frame before returning `None`.
    pub timeout: Duration,
    /// Capture only frames arriving at the interface, not ones we send.
    pub inbound_only: bool,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            filter: String::new(),
            buffer_size: 64 << 20,
            snaplen: 1024,
            timeout: Duration::from_millis(50),
            inbound_only: true,
        }
    }
}

/// A received frame, borrowed from libpcap's buffer until the next call.
#[derive(Debug)]
pub struct Received<'a> {
    /// Capture time since the Unix epoch.
    pub timestamp: Duration,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire.
    pub wire_len: u32,
}

/// libpcap's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub received: u32,
    /// Dropped because the buffer was full.
    pub dropped: u32,
    /// Dropped by the interface or driver.
    pub if_dropped: u32,
}

/// A live libpcap capture on one interface.
///
/// The capture is non-blocking and waited on with `poll(2)`: in immediate
/// mode libpcap on Linux does not return when its read timeout expires, so a
/// blocking read would never let the caller stop on a quiet link.
pub struct Receiver {
    capture: Capture<Active>,
    link: LinkType,
    iface: String,
    timeout_ms: i32,
    /// The current frame, copied out of libpcap's ring (a few hundred bytes).
    frame: Vec<u8>,
}

impl Receiver {
    /// Opens a capture on `iface` and installs the filter.
    ///
    /// # Errors
    /// [`Error::Privilege`] without CAP_NET_RAW; [`Error::Pcap`] for a bad
    /// interface or filter; [`Error::UnsupportedLinkType`].
    pub fn open(iface: &str, config: &CaptureConfig) -> Result<Receiver, Error> {
        let pcap_err = |operation| move |source: pcap::Error| classify(operation, iface, source);
        let timeout_ms = i32::try_from(config.timeout.as_millis()).unwrap_or(i32::MAX).max(1);
        let capture = Capture::from_device(iface)
            .map_err(pcap_err("opening a capture"))?
            .immediate_mode(true)
            .buffer_size(config.buffer_size)
            .snaplen(config.snaplen)
            .timeout(timeout_ms)
            .open()
            .map_err(pcap_err("opening a capture"))?;
        let dlt = capture.get_datalink().0;
        let link = LinkType::from_dlt(dlt).ok_or(Error::UnsupportedLinkType { iface: iface.into(), dlt })?;
        let capture = capture.setnonblock().map_err(pcap_err("making the capture non-blocking"))?;
        let mut rx =
            Receiver { capture, link, iface: iface.into(), timeout_ms, frame: Vec::with_capacity(2048) };
        rx.configure(config)?;
        Ok(rx)
    }

    /// Gives an open capture another filter, direction and read timeout,
    /// as if it had been opened with `config`; the buffer size and snap
    /// length stay those it was opened with. Needs no privilege, so a
    /// capture opened early can serve each stage of a scan after the
    /// process has given up its capabilities. libpcap applies the new
    /// filter to frames already buffered, too.
    ///
    /// # Errors
    /// [`Error::Pcap`] for a filter that does not compile.
    pub fn configure(&mut self, config: &CaptureConfig) -> Result<(), Error> {
        let iface = self.iface.clone();
        let pcap_err = |operation| {
            let iface = iface.clone();
            move |source: pcap::Error| classify(operation, &iface, source)
        };
        let direction = if config.inbound_only { Direction::In } else { Direction::InOut };
        self.capture.direction(direction).map_err(pcap_err("setting the capture direction"))?;
        self.capture.filter(&config.filter, true).map_err(pcap_err("compiling the BPF filter"))?;
        self.timeout_ms = i32::try_from(config.timeout.as_millis()).unwrap_or(i32::MAX).max(1);
        Ok(())
    }

    /// The interface the capture listens on.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The link type frames arrive with.
    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// The next frame, or `None` when the timeout passed without one.
    ///
    /// # Errors
    /// [`Error::Pcap`] when the capture fails.
    pub fn next_frame(&mut self) -> Result<Option<Received<'_>>, Error> {
        self.next_frame_or_drained(|_| {})
    }

    /// As [`Receiver::next_frame`], calling `drained` with the time whenever
    /// a read finds nothing waiting, before it waits: every frame that
    /// arrived until then has been returned. A caller deciding that replies
    /// have stopped can so tell a quiet line from a reader that fell behind.
    ///
    /// # Errors
    /// [`Error::Pcap`] when the capture fails.
    pub fn next_frame_or_drained(
        &mut self,
        mut drained: impl FnMut(Instant),
    ) -> Result<Option<Received<'_>>, Error> {
        let mut waited = false;
        let (timestamp, wire_len) = loop {
            match self.capture.next_packet() {
                Ok(packet) => {
                    let ts = packet.header.ts;
                    self.frame.clear();
                    self.frame.extend_from_slice(packet.data);
                    let timestamp = Duration::new(ts.tv_sec.max(0) as u64, (ts.tv_usec.max(0) as u32) * 1000);
                    break (timestamp, packet.header.len);
                }
                Err(pcap::Error::TimeoutExpired) if !waited => {
                    drained(Instant::now());
                    self.wait_readable()?;
                    waited = true;
                }
                Err(pcap::Error::TimeoutExpired) => return Ok(None),
                Err(source) => {
                    return Err(Error::Pcap {
                        operation: "reading a frame",
                        iface: self.iface.clone(),
                        source,
                    })
                }
            }
        };
        Ok(Some(Received { timestamp, data: &self.frame, wire_len }))
    }

    /// Waits until the capture has a frame or the timeout passes.
    fn wait_readable(&self) -> Result<(), Error> {
        let mut fds = libc::pollfd { fd: self.capture.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        let ret = unsafe { libc::poll(&mut fds, 1, self.timeout_ms) };
        if ret < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(Error::Io { operation: "poll", iface: self.iface.clone(), source: err });
            }
        }
        Ok(())
    }

    /// libpcap's receive and drop counters so far.
    ///
    /// # Errors
    /// [`Error::Pcap`] when libpcap cannot report them.
    pub fn stats(&mut self) -> Result<CaptureStats, Error> {
        let s = self.capture.stats().map_err(|source| Error::Pcap {
            operation: "reading statistics",
            iface: self.iface.clone(),
            source,
        })?;
        Ok(CaptureStats { received: s.received, dropped: s.dropped, if_dropped: s.if_dropped })
    }
}

fn classify(operation: &'static str, iface: &str, source: pcap::Error) -> Error {
    if is_permission(&source.to_string()) {
        Error::Privilege {
            operation: "opening a libpcap capture",
            iface: iface.into(),
            capability: "CAP_NET_RAW",
            detail: source.to_string(),
        }
    } else {
        Error::Pcap { operation, iface: iface.into(), source }
    }
}
