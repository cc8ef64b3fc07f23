//! Errors of the database loader and the subject-fingerprint parser.
//!
//! Every syntax error names where it happened (file, 1-based line and column),
//! the offending text and what the parser expected there, so a user editing
//! a fingerprint file can jump straight to the mistake:
//! `mine.db:12:8: expected '=' after attribute name in "T1(R=Y%DF"`.

use std::path::PathBuf;

use thiserror::Error;

/// Longest offending text quoted in an error message, in characters.
const MAX_QUOTED: usize = 160;

/// Cuts `text` to a length that reads well inside one error line, with
/// control characters escaped (`\r`, `\u{85}`) so that they can be seen.
pub(crate) fn quote(text: &str) -> String {
    let mut cut = String::with_capacity(text.len().min(MAX_QUOTED * 2));
    for c in text.chars().take(MAX_QUOTED) {
        if c.is_control() {
            cut.extend(c.escape_debug());
        } else {
            cut.push(c);
        }
    }
    if text.chars().nth(MAX_QUOTED).is_some() {
        cut.push('…');
    }
    cut
}

/// A failure to load or compile an nmap-os-db style database.
#[derive(Debug, Error)]
pub enum DbError {
    /// A database file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line does not follow the nmap-os-db grammar.
    #[error("{}:{line}:{column}: {expected} in \"{text}\"", path.display())]
    Syntax {
        /// The file holding the line.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// 1-based column (in characters) where the problem was found.
        column: usize,
        /// The offending line (shortened when very long).
        text: String,
        /// What the parser expected, e.g. "expected '=' after attribute name".
        expected: String,
    },
    /// A second `MatchPoints` block: nmap allows exactly one per database.
    #[error(
        "{}:{line}: a second MatchPoints block (the first is at {}:{first_line}); a database has exactly one",
        path.display(),
        first_path.display()
    )]
    DuplicateMatchPoints {
        /// File of the second block.
        path: PathBuf,
        /// Line of the second block.
        line: usize,
        /// File of the first block.
        first_path: PathBuf,
        /// Line of the first block.
        first_line: usize,
    },
    /// None of the loaded files has a `MatchPoints` block, so nothing can be scored.
    #[error("no MatchPoints block in {}; load nmap's nmap-os-db too or add one", list_paths(sources))]
    MissingMatchPoints {
        /// Every file that was loaded.
        sources: Vec<PathBuf>,
    },
}

fn list_paths(paths: &[PathBuf]) -> String {
    if paths.is_empty() {
        return "(no files)".to_owned();
    }
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// A failure to parse a subject fingerprint printed by nmap (or by scry).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("subject fingerprint, offset {offset}: {expected} in \"{text}\"")]
pub struct SubjectError {
    /// Offset (in characters) into the joined fingerprint text.
    pub offset: usize,
    /// The test being parsed (shortened when very long).
    pub text: String,
    /// What the parser expected there.
    pub expected: String,
}
