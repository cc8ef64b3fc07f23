//! Writing frames to a pcap file that tcpdump and Wireshark read.

use crate::Error;
use pcap::{Capture, Linktype, Packet, PacketHeader, Savefile};
use std::path::Path;
use std::time::Duration;

/// A pcap file of Ethernet frames.
pub struct PcapWriter {
    file: Savefile,
    path: String,
}

impl PcapWriter {
    /// Creates (or truncates) `path`.
    ///
    /// # Errors
    /// [`Error::Pcap`] when the file cannot be created.
    pub fn create(path: &Path) -> Result<PcapWriter, Error> {
        let shown = path.display().to_string();
        let err = |source| Error::Pcap { operation: "creating a pcap file", iface: shown.clone(), source };
        let dead = Capture::dead(Linktype::ETHERNET).map_err(err)?;
        let file = dead.savefile(path).map_err(err)?;
        Ok(PcapWriter { file, path: shown })
    }

    /// Writes into `file`, already created (say, before the process gave
    /// up the permissions it needed to); `shown` names it in errors.
    ///
    /// # Errors
    /// [`Error::Pcap`] when libpcap cannot take the file.
    pub fn from_file(file: std::fs::File, shown: &str) -> Result<PcapWriter, Error> {
        use std::os::fd::IntoRawFd;
        let err = |source| Error::Pcap { operation: "writing a pcap file", iface: shown.to_owned(), source };
        let dead = Capture::dead(Linktype::ETHERNET).map_err(err)?;
        // SAFETY: the descriptor is ours (taken from `file`) and passes to the Savefile, its sole owner.
        let file = unsafe { dead.savefile_raw_fd(file.into_raw_fd()) }.map_err(err)?;
        Ok(PcapWriter { file, path: shown.to_owned() })
    }

    /// Appends one whole frame with its capture time (since the Unix epoch).
    pub fn write(&mut self, timestamp: Duration, frame: &[u8]) {
        self.write_captured(timestamp, frame, frame.len() as u32);
    }

    /// Appends the captured part of a frame that was `wire_len` bytes long on
    /// the wire (more than `frame.len()` when the capture was cut at its snap length).
    pub fn write_captured(&mut self, timestamp: Duration, frame: &[u8], wire_len: u32) {
        let header = PacketHeader {
            ts: libc::timeval {
                tv_sec: timestamp.as_secs() as libc::time_t,
                tv_usec: libc::suseconds_t::from(timestamp.subsec_micros() as i32),
            },
            caplen: frame.len() as u32,
            len: wire_len.max(frame.len() as u32),
        };
        self.file.write(&Packet::new(&header, frame));
    }

    /// Flushes buffered frames to disk.
    ///
    /// # Errors
    /// [`Error::Pcap`] when the write fails.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.file.flush().map_err(|source| Error::Pcap {
            operation: "flushing a pcap file",
            iface: self.path.clone(),
            source,
        })
    }
}
