//! Where nmap-service-probes is read from: nmap's own search order
//! (nmap.cc `nmap_fetchfile`), resolved once at start so `-d` can print it.
//! The file is never bundled with scry (its licence asks that it not be).
//!
//! 1. `--versiondb FILE`: that file and nothing else;
//! 2. `--datadir DIR`, then `$NMAPDIR`, then `~/.nmap`;
//! 3. nmap's install: `/usr/local/share/nmap`, `/usr/share/nmap`.
//!
//! nmap also looks beside its own executable, which has no meaning for
//! scry's binary and is skipped.

use std::path::{Path, PathBuf};

use crate::error::ProbesError;

/// The file's name in a data directory.
pub const FILE_NAME: &str = "nmap-service-probes";
/// nmap's install directories, in the order they are tried.
pub const SYSTEM_DIRS: [&str; 2] = ["/usr/local/share/nmap", "/usr/share/nmap"];

/// The inputs of the search, gathered by the caller (flags and environment).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPath {
    /// `--versiondb FILE`.
    pub versiondb: Option<PathBuf>,
    /// `--datadir DIR`.
    pub datadir: Option<PathBuf>,
    /// `$NMAPDIR`.
    pub nmapdir: Option<PathBuf>,
    /// `$HOME`, for `~/.nmap`.
    pub home: Option<PathBuf>,
}

impl SearchPath {
    /// The flags plus `$NMAPDIR` and `$HOME` from the environment.
    pub fn from_env(versiondb: Option<PathBuf>, datadir: Option<PathBuf>) -> SearchPath {
        let var = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        SearchPath { versiondb, datadir, nmapdir: var("NMAPDIR"), home: var("HOME") }
    }

    /// Every candidate file, in the order tried.
    pub fn candidates(&self) -> Vec<PathBuf> {
        if let Some(file) = &self.versiondb {
            return vec![file.clone()];
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        dirs.extend(self.datadir.clone());
        dirs.extend(self.nmapdir.clone());
        dirs.extend(self.home.as_ref().map(|h| h.join(".nmap")));
        dirs.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
        dirs.into_iter().map(|d| d.join(FILE_NAME)).collect()
    }

    /// The first candidate that is a file; `--versiondb` is returned as
    /// given (loading it reports a missing file).
    ///
    /// # Errors
    /// [`ProbesError::NotFound`] listing every place tried.
    pub fn locate(&self) -> Result<PathBuf, ProbesError> {
        if let Some(file) = &self.versiondb {
            return Ok(file.clone());
        }
        let tried = self.candidates();
        tried.iter().find(|p| Path::is_file(p)).cloned().ok_or(ProbesError::NotFound { tried })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_follows_nmap_fetchfile() {
        let s = SearchPath {
            versiondb: None,
            datadir: Some("/d".into()),
            nmapdir: Some("/n".into()),
            home: Some("/h".into()),
        };
        let c: Vec<String> = s.candidates().iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            c,
            [
                "/d/nmap-service-probes",
                "/n/nmap-service-probes",
                "/h/.nmap/nmap-service-probes",
                "/usr/local/share/nmap/nmap-service-probes",
                "/usr/share/nmap/nmap-service-probes",
            ]
        );
    }

    #[test]
    fn versiondb_is_the_only_candidate() {
        let s = SearchPath {
            versiondb: Some("/x/probes".into()),
            datadir: Some("/d".into()),
            ..SearchPath::default()
        };
        assert_eq!(s.candidates(), [PathBuf::from("/x/probes")]);
        assert_eq!(s.locate().unwrap(), PathBuf::from("/x/probes"));
    }

    #[test]
    fn datadir_file_wins_when_present() {
        let dir = std::env::temp_dir().join(format!("scry-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE_NAME), "Probe TCP NULL q||\n").unwrap();
        let s = SearchPath { datadir: Some(dir.clone()), ..SearchPath::default() };
        assert_eq!(s.locate().unwrap(), dir.join(FILE_NAME));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn nothing_found_lists_every_place() {
        let s = SearchPath { datadir: Some("/nonexistent-scry".into()), ..SearchPath::default() };
        if SYSTEM_DIRS.iter().any(|d| Path::new(d).join(FILE_NAME).is_file()) {
            assert_eq!(s.locate().unwrap().file_name().unwrap(), FILE_NAME);
            return;
        }
        let ProbesError::NotFound { tried } = s.locate().unwrap_err() else { panic!() };
        assert_eq!(tried.len(), 3);
    }
}
