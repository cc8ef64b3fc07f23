//! The resume-file format: what a stopped scan needs to carry on where it stopped.
//!
//! The walk over (address, port) pairs is a pure function of the seed, the
//! targets and the ports, so a scan is resumed by running the same command
//! line with the same seed from the first position not yet probed. A scan
//! of both -sS and -sU walks once per phase (SYN, then UDP), so the file also
//! says which phase was running. It holds exactly that, one `key = value`
//! per line:
//!
//! ```text
//! # scry resume file: continue with `scry --resume FILE`
//! seed = 8124512
//! phase = 2
//! position = 40960
//! args = ["-sS", "-sU", "-p-", "--rate", "2000", "198.18.0.10"]
//! ```
//!
//! A scan with version detection (`-sV`, `--banners`) stopped before every
//! open port found was versioned adds the ports still to do, as a JSON array
//! of `[address, protocol, port]`:
//!
//! ```text
//! versions = [["198.18.0.10", "tcp", 22], ["198.18.0.10", "tcp", 443]]
//! ```
//!
//! The resumed run versions them as well as the open ports its own walk
//! finds; `position` at the end of the last phase's walk says the port scan
//! itself is done, and the resumed run probes no port again.
//!
//! `args` is the original command line (without the program name) as a JSON
//! array of strings. `phase` counts the scan's phases from 1 in the order
//! they run; a file without it (written before combined scans could be
//! resumed) means phase 1. `position` counts from the start of that phase's
//! whole walk, so a shard's resume file carries its `--shard` in `args` and
//! a position inside that shard.
//!
//! This module only reads and writes text: the CLI opens, saves and acts on
//! the file. Any text parses to a state or to an error naming
//! `file:line:column`; nothing panics.

use std::net::IpAddr;

use thiserror::Error;

use crate::services::Protocol;

const HEADER: &str = "# scry resume file: continue with `scry --resume FILE`";

/// A stopped scan's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeState {
    pub seed: u64,
    /// The phase that was running, from 1 (SYN before UDP).
    pub phase: u32,
    /// The first position of that phase's walk not yet probed.
    pub position: u64,
    pub args: Vec<String>,
    /// Open ports found before the stop whose version detection did not finish.
    pub versions: Vec<(IpAddr, Protocol, u16)>,
}

/// A resume file as read: its state, and the line and column of its `phase`
/// value, so that a phase the scan turns out not to have can be reported there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeFile {
    pub state: ResumeState,
    pub phase_at: Option<(usize, usize)>,
}

/// Why a resume file's text cannot be used.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum ResumeError {
    /// A line that is not a known `key = value` with a valid value.
    #[error("{origin}:{line}:{column}: {problem}")]
    Syntax {
        /// The file's name.
        origin: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in bytes.
        column: usize,
        /// What is wrong, quoting the text.
        problem: String,
    },
    /// A key every resume file has is missing.
    #[error("{origin}: no `{key} =` line; not a scry resume file")]
    Missing {
        /// The file's name.
        origin: String,
        /// The missing key.
        key: &'static str,
    },
}

impl ResumeState {
    /// The file's text; [`ResumeState::parse`] reads it back unchanged.
    pub fn to_text(&self) -> String {
        let args = serde_json::to_string(&self.args).expect("strings serialize");
        let (seed, phase, position) = (self.seed, self.phase, self.position);
        let mut text =
            format!("{HEADER}\nseed = {seed}\nphase = {phase}\nposition = {position}\nargs = {args}\n");
        if !self.versions.is_empty() {
            let list: Vec<(String, &str, u16)> = self
                .versions
                .iter()
                .map(|(ip, proto, port)| (ip.to_string(), proto.as_str(), *port))
                .collect();
            let list = serde_json::to_string(&list).expect("tuples serialize");
            text.push_str(&format!("versions = {list}\n"));
        }
        text
    }

    /// Parses a resume file's text; `origin` names it in errors.
    ///
    /// # Errors
    /// The first bad line at `origin:line:column`, or a missing key.
    pub fn parse(text: &str, origin: &str) -> Result<ResumeFile, ResumeError> {
        let (mut seed, mut phase, mut position, mut args) = (None, None, None, None);
        let mut versions = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let at = |column: usize, problem: String| ResumeError::Syntax {
                origin: origin.to_owned(),
                line: n + 1,
                column,
                problem,
            };
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(at(indent + 1, format!("expected `key = value`, found {trimmed:?}")));
            };
            let value_col = indent + key.len() + 2 + (value.len() - value.trim_start().len());
            let (key, value) = (key.trim(), value.trim());
            let number = |v: &str| v.parse::<u64>().map_err(|e| at(value_col, format!("{key} {v:?}: {e}")));
            match key {
                "seed" => seed = Some(number(value)?),
                "phase" => {
                    let given = number(value)?;
                    let first =
                        || at(value_col, format!("phase {given}: phases count from 1 (SYN before UDP)"));
                    let given = u32::try_from(given).ok().filter(|p| *p >= 1).ok_or_else(first)?;
                    phase = Some((given, (n + 1, value_col)));
                }
                "position" => position = Some(number(value)?),
                "args" => {
                    let list: Vec<String> = serde_json::from_str(value).map_err(|e| {
                        at(
                            value_col + e.column().saturating_sub(1),
                            format!("args must be a JSON array of strings: {e}"),
                        )
                    })?;
                    args = Some(list);
                }
                "versions" => {
                    let list: Vec<(String, String, u16)> = serde_json::from_str(value).map_err(|e| {
                        at(
                            value_col + e.column().saturating_sub(1),
                            format!("versions must be a JSON array of [address, protocol, port]: {e}"),
                        )
                    })?;
                    for (ip, proto, port) in list {
                        let bad = |what: String| at(value_col, format!("versions: {what}"));
                        let ip: IpAddr = ip.parse().map_err(|_| bad(format!("{ip:?} is not an address")))?;
                        let proto = match proto.as_str() {
                            "tcp" => Protocol::Tcp,
                            "udp" => Protocol::Udp,
                            _ => return Err(bad(format!("protocol {proto:?}: expected \"tcp\" or \"udp\""))),
                        };
                        versions.push((ip, proto, port));
                    }
                }
                other => return Err(at(indent + 1, format!("unknown key {other:?}"))),
            }
        }
        let missing = |key| ResumeError::Missing { origin: origin.to_owned(), key };
        let state = ResumeState {
            seed: seed.ok_or_else(|| missing("seed"))?,
            phase: phase.map_or(1, |(n, _)| n),
            position: position.ok_or_else(|| missing("position"))?,
            args: args.ok_or_else(|| missing("args"))?,
            versions,
        };
        Ok(ResumeFile { state, phase_at: phase.map(|(_, at)| at) })
    }
}
