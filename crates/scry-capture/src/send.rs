//! Raw frame sending through a send-only `AF_PACKET` socket.
//!
//! The socket is opened with protocol 0, so the kernel queues no received
//! traffic on it (pnet's datalink channel opens an `ETH_P_ALL` socket that
//! copies every frame on the interface into a buffer nobody reads). Frames are
//! sent in batches with `sendmmsg(2)` to amortise the system call.

use crate::error::is_permission;
use crate::{Error, Interface};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Most frames handed to the kernel in one `sendmmsg` call.
pub const MAX_BATCH: usize = 64;

/// A send-only raw socket bound to one interface.
#[derive(Debug)]
pub struct RawSender {
    fd: OwnedFd,
    iface: String,
    ifindex: i32,
}

impl RawSender {
    /// Opens a raw socket that sends on `iface`.
    ///
    /// # Errors
    /// [`Error::Privilege`] without CAP_NET_RAW; [`Error::NoSuchInterface`].
    pub fn open(iface: &Interface) -> Result<RawSender, Error> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let err = io::Error::last_os_error();
            return Err(if is_permission(&err.to_string()) {
                Error::Privilege {
                    operation: "opening a raw AF_PACKET socket",
                    iface: iface.name.clone(),
                    capability: "CAP_NET_RAW",
                    detail: err.to_string(),
                }
            } else {
                Error::Io { operation: "socket(AF_PACKET)", iface: iface.name.clone(), source: err }
            });
        }
        // SAFETY: `raw` is a fresh, valid descriptor we now own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let ifindex = i32::try_from(iface.index).map_err(|_| Error::NoSuchInterface(iface.name.clone()))?;
        Ok(RawSender { fd, iface: iface.name.clone(), ifindex })
    }

    /// Sends one frame.
    ///
    /// # Errors
    /// The `sendto` failure, naming the interface.
    pub fn send(&self, frame: &[u8]) -> Result<(), Error> {
        self.send_batch(&[frame]).map(|_| ())
    }

    /// Sends up to [`MAX_BATCH`] frames with one `sendmmsg`, returning how many
    /// the kernel took (it may take fewer when its queue is full).
    ///
    /// # Errors
    /// The `sendmmsg` failure, naming the interface.
    pub fn send_batch(&self, frames: &[&[u8]]) -> Result<usize, Error> {
        let frames = &frames[..frames.len().min(MAX_BATCH)];
        if frames.is_empty() {
            return Ok(0);
        }
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex;
        addr.sll_halen = 6;
        let mut iovs: [libc::iovec; MAX_BATCH] =
            [libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 }; MAX_BATCH];
        // SAFETY: mmsghdr is plain data; zeroed is a valid value.
        let mut msgs: [libc::mmsghdr; MAX_BATCH] = unsafe { std::mem::zeroed() };
        for (i, frame) in frames.iter().enumerate() {
            iovs[i] = libc::iovec { iov_base: frame.as_ptr() as *mut libc::c_void, iov_len: frame.len() };
            msgs[i].msg_hdr.msg_name = &mut addr as *mut libc::sockaddr_ll as *mut libc::c_void;
            msgs[i].msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            msgs[i].msg_hdr.msg_iov = &mut iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every pointer in `msgs` refers to `addr`, `iovs` or the caller's
        // frames, all alive for the duration of the call; the kernel only reads them.
        let sent = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), msgs.as_mut_ptr(), frames.len() as u32, 0) };
        if sent < 0 {
            return Err(Error::Io {
                operation: "sendmmsg",
                iface: self.iface.clone(),
                source: io::Error::last_os_error(),
            });
        }
        Ok(sent as usize)
    }
}
