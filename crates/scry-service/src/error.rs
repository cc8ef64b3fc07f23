//! Errors of the nmap-service-probes reader.
//!
//! Every syntax error names the file, the 1-based line and column (in
//! characters) where the parser stopped, what it expected there and the
//! offending line, so a user editing a `--versiondb` file can jump straight
//! to the mistake:
//! `nmap-service-probes:42:7: expected "TCP " or "UDP " after "Probe " in "Probe SCTP x q||"`.

use std::path::PathBuf;

use thiserror::Error;

/// Longest offending text quoted in an error message, in characters.
const MAX_QUOTED: usize = 160;

/// Cuts `text` to a length that reads well inside one error line.
pub(crate) fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_QUOTED).collect();
    cut.push('…');
    cut
}

/// A failure to read or compile an nmap-service-probes file.
#[derive(Debug, Error)]
pub enum ProbesError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// No nmap-service-probes file in any searched place.
    #[error(
        "nmap-service-probes not found (tried {}); install nmap or use --datadir/--versiondb",
        list_paths(tried)
    )]
    NotFound {
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },
    /// A line does not follow nmap's grammar (or its regex does not compile).
    #[error("{}:{line}:{column}: {expected} in \"{text}\"", path.display())]
    Syntax {
        /// The file holding the line.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column, in characters, where the problem was found.
        column: usize,
        /// The offending line (shortened when very long).
        text: String,
        /// What the parser expected, e.g. `expected a rarity between 1 and 9`.
        expected: String,
    },
}

impl ProbesError {
    /// The (line, column) of a syntax error, for tests and callers that
    /// point an editor at it.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ProbesError::Syntax { line, column, .. } => Some((*line, *column)),
            ProbesError::Io { .. } | ProbesError::NotFound { .. } => None,
        }
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
