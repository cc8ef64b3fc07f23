//! The one error type of the lab. Every variant names what was being done:
//! the command line and its stderr, the file, the namespace.

use std::io;

/// Why a lab could not be built, used or torn down.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// The process lacks the privilege to create network namespaces.
    #[error("lab needs root (CAP_NET_ADMIN): {0}")]
    NotRoot(String),
    /// A helper command ran but exited unsuccessfully.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line, with any script fed on stdin.
        command: String,
        /// How it exited.
        status: String,
        /// What it printed on stderr, trimmed.
        stderr: String,
    },
    /// A helper command could not be started at all (e.g. `ip` missing).
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The error from the operating system.
        source: io::Error,
    },
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, e.g. `bind tcp 0.0.0.0:22 in scry12x0t0`.
        what: String,
        /// The error from the operating system.
        source: io::Error,
    },
    /// A target specification cannot be realised.
    #[error("invalid lab spec: {0}")]
    InvalidSpec(String),
    /// The lab came up but the scanner could not reach every target in time.
    #[error("lab not ready: {0}")]
    NotReady(String),
    /// A helper was asked to send to an address outside the lab's ranges
    /// (198.18.0.0/15, 2001:2::/48).
    #[error("{0} is outside the lab ranges 198.18.0.0/15 and 2001:2::/48")]
    OutsideLab(std::net::IpAddr),
}

impl LabError {
    /// Builds an [`LabError::Io`] from a description and the OS error.
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io { what: what.into(), source }
    }

    /// Whether the failure is a lack of privilege, which tests may skip on.
    pub fn is_not_root(&self) -> bool {
        matches!(self, Self::NotRoot(_))
    }
}
