//! Resume files: what a stopped scan needs to carry on where it stopped.
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
//! `args` is the original command line (without the program name) as a JSON
//! array of strings. `phase` counts the scan's phases from 1 in the order
//! they run; a file without it (written before combined scans could be
//! resumed) means phase 1. `position` counts from the start of that phase's
//! whole walk, so a shard's resume file carries its `--shard` in `args` and
//! a position inside that shard.

use crate::UsageError;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where a stopped scan leaves its resume file unless `--resume-file` says otherwise
/// (as masscan's `paused.conf`).
pub const DEFAULT_PATH: &str = "scry.resume";

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
}

/// A resume file as read: its state, and where its `phase` value stands, so
/// that a phase the scan turns out not to have is reported at file:line:column.
#[derive(Clone, Debug)]
pub struct ResumeFile {
    pub state: ResumeState,
    origin: String,
    phase_at: Option<(usize, usize)>,
}

impl ResumeFile {
    /// The error for a recorded phase past the last of the scan's `phases`.
    pub fn phase_error(&self, phases: usize) -> UsageError {
        let at = match self.phase_at {
            Some((line, col)) => format!("{}:{line}:{col}", self.origin),
            None => self.origin.clone(),
        };
        UsageError(format!(
            "{at}: phase {} is past the scan's last phase ({phases}); was the resume file written \
             for other scan types or ports?",
            self.state.phase
        ))
    }
}

impl ResumeState {
    /// The file's text.
    pub fn to_text(&self) -> String {
        let args = serde_json::to_string(&self.args).expect("strings serialize");
        let (seed, phase, position) = (self.seed, self.phase, self.position);
        format!("{HEADER}\nseed = {seed}\nphase = {phase}\nposition = {position}\nargs = {args}\n")
    }

    /// Parses a resume file's text; errors name `origin:line:column`.
    pub fn parse(text: &str, origin: &str) -> Result<ResumeFile, UsageError> {
        let (mut seed, mut phase, mut position, mut args) = (None, None, None, None);
        for (n, line) in text.lines().enumerate() {
            let at = |col: usize, what: String| UsageError(format!("{origin}:{}:{col}: {what}", n + 1));
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
                other => return Err(at(indent + 1, format!("unknown key {other:?}"))),
            }
        }
        let missing = |key: &str| UsageError(format!("{origin}: no `{key} =` line; not a scry resume file"));
        let state = ResumeState {
            seed: seed.ok_or_else(|| missing("seed"))?,
            phase: phase.map_or(1, |(n, _)| n),
            position: position.ok_or_else(|| missing("position"))?,
            args: args.ok_or_else(|| missing("args"))?,
        };
        Ok(ResumeFile { state, origin: origin.to_owned(), phase_at: phase.map(|(_, at)| at) })
    }

    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<ResumeFile, UsageError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError(format!("cannot read resume file {}: {e}", path.display())))?;
        ResumeState::parse(&text, &path.display().to_string())
    }

    /// Writes `path` whole or not at all: a temporary file renamed over it,
    /// so a crash mid-write leaves the previous checkpoint.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let mut tmp = PathBuf::from(path);
        tmp.as_mut_os_string().push(".tmp");
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(self.to_text().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    }
}

/// The command line a resumed run executes: the original arguments with the
/// stored seed, phase and start position, appending to the original output files.
pub fn resumed_args(state: &ResumeState) -> Vec<String> {
    let mut args = state.args.clone();
    args.extend([
        "--seed".to_owned(),
        state.seed.to_string(),
        "--resume-phase".to_owned(),
        state.phase.to_string(),
        "--resume-position".to_owned(),
        state.position.to_string(),
        "--append-output".to_owned(),
    ]);
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ResumeState {
        ResumeState {
            seed: 42,
            phase: 2,
            position: 4096,
            args: vec!["-p-".into(), "198.18.0.10".into(), "a \"b\"".into()],
        }
    }

    #[test]
    fn text_round_trips() {
        let s = state();
        assert_eq!(ResumeState::parse(&s.to_text(), "f").unwrap().state, s);
    }

    #[test]
    fn a_file_without_a_phase_resumes_the_first() {
        let old = "seed = 1\nposition = 2\nargs = []\n";
        assert_eq!(ResumeState::parse(old, "r").unwrap().state.phase, 1);
    }

    #[test]
    fn a_phase_past_the_last_is_reported_where_it_stands() {
        let file = ResumeState::parse("seed = 1\n\n  phase =  3\nposition = 2\nargs = []\n", "r").unwrap();
        let err = file.phase_error(2).0;
        assert!(err.starts_with("r:3:12: phase 3 is past the scan's last phase (2)"), "{err}");
    }

    #[test]
    fn errors_name_line_and_column() {
        let bad = "# c\nseed = 1\nposition = 12x\nargs = []\n";
        let err = ResumeState::parse(bad, "r.resume").unwrap_err().0;
        assert!(err.starts_with("r.resume:3:12: position \"12x\""), "{err}");
        let err = ResumeState::parse("seed = 1\nposition = 2\nargs = [1]\n", "r").unwrap_err().0;
        assert!(err.starts_with("r:3:9: args must be a JSON array of strings"), "{err}");
        let err = ResumeState::parse("seed 1\n", "r").unwrap_err().0;
        assert!(err.starts_with("r:1:1: expected `key = value`"), "{err}");
        let err = ResumeState::parse("  colour = red\n", "r").unwrap_err().0;
        assert!(err.starts_with("r:1:3: unknown key \"colour\""), "{err}");
        let err = ResumeState::parse("seed = 1\nphase = 0\n", "r").unwrap_err().0;
        assert!(err.starts_with("r:2:9: phase 0: phases count from 1"), "{err}");
        let err = ResumeState::parse("seed = 1\nargs = []\n", "r").unwrap_err().0;
        assert_eq!(err, "r: no `position =` line; not a scry resume file");
    }

    #[test]
    fn resumed_args_pin_seed_and_position() {
        let args = resumed_args(&state());
        assert_eq!(
            args[3..],
            ["--seed", "42", "--resume-phase", "2", "--resume-position", "4096", "--append-output"]
                .map(String::from)
        );
    }
}
