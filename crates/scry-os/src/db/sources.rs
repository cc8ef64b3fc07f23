//! Which files make up the default database.
//!
//! By default scry reads nmap's installed `nmap-os-db` (when nmap is
//! installed) and then the project's own fingerprint files: every file in
//! the `os-db/` directory whose name ends in `.db` or `-os-db`, in name
//! order, skipping hidden files. `--os-db` replaces all of this with an
//! explicit list ([`crate::Database::load`]).

use std::path::{Path, PathBuf};

use crate::error::DbError;

/// Where nmap installs its database, in the order they are tried.
pub const SYSTEM_DB_PATHS: [&str; 2] = ["/usr/share/nmap/nmap-os-db", "/usr/local/share/nmap/nmap-os-db"];

/// Whether a file name follows the project convention (`*.db`, `*-os-db`).
fn is_db_name(name: &str) -> bool {
    !name.starts_with('.') && (name.ends_with(".db") || name.ends_with("-os-db"))
}

/// The fingerprint files in `dir`, sorted by name; none if `dir` is missing.
///
/// # Errors
/// [`DbError::Io`] if `dir` exists but cannot be listed.
pub fn project_files(dir: &Path) -> Result<Vec<PathBuf>, DbError> {
    let io = |source| DbError::Io { path: dir.to_owned(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io)?;
        let name = entry.file_name();
        let is_file = entry.file_type().map_err(io)?.is_file() || entry.path().is_file();
        if is_file && name.to_str().is_some_and(is_db_name) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// nmap's installed database (first of [`SYSTEM_DB_PATHS`] that exists)
/// followed by [`project_files`] of `project_dir`.
///
/// # Errors
/// As [`project_files`].
pub fn default_sources(project_dir: &Path) -> Result<Vec<PathBuf>, DbError> {
    let mut sources: Vec<PathBuf> =
        SYSTEM_DB_PATHS.iter().map(PathBuf::from).filter(|p| p.is_file()).take(1).collect();
    sources.extend(project_files(project_dir)?);
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::is_db_name;

    #[test]
    fn file_name_convention() {
        assert!(is_db_name("lab.db"));
        assert!(is_db_name("nmap-os-db"));
        assert!(is_db_name("custom-os-db"));
        assert!(!is_db_name("README.md"));
        assert!(!is_db_name(".lab.db"));
        assert!(!is_db_name("lab.db.orig"));
    }
}
