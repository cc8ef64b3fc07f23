//! Holding a lab up until someone says stop: SIGINT and SIGTERM are blocked
//! in every thread and taken with `sigwait`, so the lab's `Drop` always runs.

use crate::LabError;
use std::io;

/// SIGINT and SIGTERM, blocked for the calling thread and the threads it
/// starts afterwards.
pub struct Termination {
    set: libc::sigset_t,
}

impl Termination {
    /// Blocks SIGINT and SIGTERM. Call before any thread exists so that every
    /// thread inherits the mask and only [`Termination::wait`] sees them.
    pub fn block() -> Result<Self, LabError> {
        // SAFETY: signal() with SIG_DFL installs no handler; sigemptyset and
        // sigaddset initialise the set we own; pthread_sigmask only reads it.
        unsafe {
            // A shell starts background jobs with SIGINT ignored, and an
            // ignored signal is discarded even while blocked: restore the
            // default first.
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io_error("block SIGINT/SIGTERM", rc));
            }
            Ok(Self { set })
        }
    }

    /// Waits for SIGINT or SIGTERM and returns its number.
    pub fn wait(&self) -> Result<libc::c_int, LabError> {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is initialised and `sig` is a valid out-pointer.
        let rc = unsafe { libc::sigwait(&self.set, &mut sig) };
        if rc != 0 {
            return Err(io_error("sigwait", rc));
        }
        Ok(sig)
    }
}

fn io_error(what: &str, rc: libc::c_int) -> LabError {
    LabError::Io { what: what.into(), source: io::Error::from_raw_os_error(rc) }
}
