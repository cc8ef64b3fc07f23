//! Resume files: what a stopped scan needs to carry on where it stopped.
//!
//! The format (one `key = value` a line: seed, phase, position, args) is
//! read and written by [`scry_probe::resume`]; this module opens and saves
//! the file and turns its errors into usage errors (exit status 2).

use crate::UsageError;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Where a stopped scan leaves its resume file unless `--resume-file` says otherwise
/// (as masscan's `paused.conf`).
pub const DEFAULT_PATH: &str = "scry.resume";

pub use scry_probe::resume::ResumeState;

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

/// Parses a resume file's text; errors name `origin:line:column`.
pub fn parse(text: &str, origin: &str) -> Result<ResumeFile, UsageError> {
    let read = ResumeState::parse(text, origin).map_err(|e| UsageError(e.to_string()))?;
    Ok(ResumeFile { state: read.state, origin: origin.to_owned(), phase_at: read.phase_at })
}

/// Reads and parses `path`.
pub fn load(path: &Path) -> Result<ResumeFile, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read resume file {}: {e}", path.display())))?;
    parse(&text, &path.display().to_string())
}

/// Writes `state` to `path` whole or not at all: a temporary file renamed
/// over it, so a crash mid-write leaves the previous checkpoint.
pub fn save(state: &ResumeState, path: &Path) -> io::Result<()> {
    let mut tmp = PathBuf::from(path);
    tmp.as_mut_os_string().push(".tmp");
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(state.to_text().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
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
            versions: Vec::new(),
        }
    }

    #[test]
    fn a_phase_past_the_last_is_reported_where_it_stands() {
        let file = parse("seed = 1\n\n  phase =  3\nposition = 2\nargs = []\n", "r").unwrap();
        let err = file.phase_error(2).0;
        assert!(err.starts_with("r:3:12: phase 3 is past the scan's last phase (2)"), "{err}");
    }

    #[test]
    fn text_round_trips_through_the_format() {
        let s = state();
        assert_eq!(parse(&s.to_text(), "f").unwrap().state, s);
    }

    #[test]
    fn format_errors_become_usage_errors_unchanged() {
        let err = parse("# c\nseed = 1\nposition = 12x\nargs = []\n", "r.resume").unwrap_err().0;
        assert_eq!(err, "r.resume:3:12: position \"12x\": invalid digit found in string");
        let err = parse("seed = 1\nargs = []\n", "r").unwrap_err().0;
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
