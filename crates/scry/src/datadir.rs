//! Where scry's data files are found: one search path, resolved once at
//! start, printed by `--version` and `-d`, never the build tree.
//!
//! The directories, in order (the first that holds a file wins, file by
//! file, as nmap's own `--datadir` lookup):
//!
//! 1. `--datadir DIR`, then `$SCRY_DATADIR`;
//! 2. the XDG data directories (XDG Base Directory Specification):
//!    `$XDG_DATA_HOME/scry` (default `~/.local/share/scry`), then `scry`
//!    under each of `$XDG_DATA_DIRS` (default `/usr/local/share:/usr/share`);
//! 3. nmap's installed data: `/usr/share/nmap`, `/usr/local/share/nmap`, or
//!    the colon-separated list in `$SCRY_NMAP_DIRS` when it is set (an empty
//!    value looks in no nmap directory; tests use it to act as a machine
//!    without nmap).
//!
//! The files are nmap's: `nmap-os-db` (`-O`, the one-SYN-ACK OS guess,
//! `--os-match`), `nmap-services` (port names, top ports, names in `-p`),
//! `nmap-payloads` (UDP probe payloads) and `nmap-service-probes` (`-sV`;
//! `--versiondb FILE` replaces it). Debian's `nmap-common` package
//! installs all four without the nmap binary. scry ships no data of its
//! own yet; its directories are searched first so that a user's files
//! override nmap's.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use scry_probe::ports::{PortError, PortList, PortProblem};
use scry_probe::services::Services;

use crate::cli::Args;

/// nmap's install directories, in the order they are searched.
pub const NMAP_DIRS: [&str; 2] = ["/usr/share/nmap", "/usr/local/share/nmap"];

/// `$XDG_DATA_DIRS` when it is unset or empty (XDG Base Directory Specification).
const XDG_DATA_DIRS_DEFAULT: &str = "/usr/local/share:/usr/share";

/// A data file scry reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFile {
    OsDb,
    Services,
    Payloads,
    ServiceProbes,
}

impl DataFile {
    /// Every data file, in the order they are listed.
    pub const ALL: [DataFile; 4] =
        [DataFile::OsDb, DataFile::Services, DataFile::Payloads, DataFile::ServiceProbes];

    /// The file's name, the same in every directory.
    pub fn name(self) -> &'static str {
        match self {
            DataFile::OsDb => "nmap-os-db",
            DataFile::Services => "nmap-services",
            DataFile::Payloads => "nmap-payloads",
            DataFile::ServiceProbes => "nmap-service-probes",
        }
    }

    /// What scry does without the file.
    fn without(self) -> &'static str {
        match self {
            DataFile::OsDb => "no -O, no OS guess, no --os-match without --os-db",
            DataFile::Services => "ports are unnamed; -p takes numbers only",
            DataFile::Payloads => "UDP probes use scry's built-in payloads",
            DataFile::ServiceProbes => "no -sV without --versiondb",
        }
    }
}

/// The environment the search path is made of, read once (or given by a
/// test, so that tests never touch the process's environment).
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// `--datadir`.
    pub datadir: Option<PathBuf>,
    pub scry_datadir: Option<OsString>,
    pub xdg_data_home: Option<OsString>,
    pub home: Option<OsString>,
    pub xdg_data_dirs: Option<OsString>,
    /// `$SCRY_NMAP_DIRS`: replaces [`NMAP_DIRS`] when set.
    pub nmap_dirs: Option<OsString>,
}

impl Env {
    /// The process's environment and `--datadir`.
    pub fn from_process(datadir: Option<&Path>) -> Env {
        let var = std::env::var_os;
        Env {
            datadir: datadir.map(Path::to_path_buf),
            scry_datadir: var("SCRY_DATADIR"),
            xdg_data_home: var("XDG_DATA_HOME"),
            home: var("HOME"),
            xdg_data_dirs: var("XDG_DATA_DIRS"),
            nmap_dirs: var("SCRY_NMAP_DIRS"),
        }
    }
}

/// A directory of the search path and what put it there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dir {
    pub path: PathBuf,
    pub origin: &'static str,
}

/// The XDG spec ignores relative paths in its variables; so does scry, and
/// it ignores empty values too.
fn absolute(value: &OsString) -> Option<PathBuf> {
    let path = PathBuf::from(value);
    path.is_absolute().then_some(path)
}

/// The directories to search, in order (see the module docs).
pub fn search_path(env: &Env) -> Vec<Dir> {
    let mut dirs = Vec::new();
    let mut push = |path: PathBuf, origin| dirs.push(Dir { path, origin });
    if let Some(dir) = &env.datadir {
        push(dir.clone(), "--datadir");
    }
    if let Some(dir) = env.scry_datadir.as_ref().filter(|v| !v.is_empty()) {
        push(PathBuf::from(dir), "$SCRY_DATADIR");
    }
    let data_home = match env.xdg_data_home.as_ref().and_then(absolute) {
        Some(dir) => Some((dir, "$XDG_DATA_HOME")),
        None => {
            env.home.as_ref().and_then(absolute).map(|home| (home.join(".local/share"), "~/.local/share"))
        }
    };
    if let Some((dir, origin)) = data_home {
        push(dir.join("scry"), origin);
    }
    let data_dirs = env.xdg_data_dirs.as_ref().filter(|v| !v.is_empty());
    let (list, origin) = match data_dirs {
        Some(list) => (list.clone(), "$XDG_DATA_DIRS"),
        None => (XDG_DATA_DIRS_DEFAULT.into(), "XDG data directory"),
    };
    for dir in std::env::split_paths(&list).filter_map(|p| absolute(&p.into_os_string())) {
        push(dir.join("scry"), origin);
    }
    match &env.nmap_dirs {
        Some(list) => {
            for dir in std::env::split_paths(list).filter(|p| !p.as_os_str().is_empty()) {
                push(dir, "$SCRY_NMAP_DIRS");
            }
        }
        None => {
            for dir in NMAP_DIRS {
                push(PathBuf::from(dir), "nmap's data");
            }
        }
    }
    dirs
}

/// The data files found on the search path, resolved once at start.
#[derive(Clone, Debug)]
pub struct DataFiles {
    dirs: Vec<Dir>,
    found: Vec<(DataFile, Option<PathBuf>)>,
}

impl DataFiles {
    /// Looks for every [`DataFile`] in the directories of `env`.
    ///
    /// # Errors
    /// `--datadir` names something that is not a directory.
    pub fn resolve(env: &Env) -> Result<DataFiles, crate::UsageError> {
        if let Some(dir) = env.datadir.as_ref().filter(|d| !d.is_dir()) {
            return Err(crate::UsageError(format!("--datadir {}: not a directory", dir.display())));
        }
        let dirs = search_path(env);
        let found = DataFile::ALL
            .iter()
            .map(|&file| (file, dirs.iter().map(|d| d.path.join(file.name())).find(|p| p.is_file())))
            .collect();
        Ok(DataFiles { dirs, found })
    }

    /// Where `file` was found, if anywhere.
    pub fn path(&self, file: DataFile) -> Option<&Path> {
        self.found.iter().find(|(f, _)| *f == file).and_then(|(_, p)| p.as_deref())
    }

    /// `file`'s path, or an error saying where scry looked.
    ///
    /// # Errors
    /// [`Missing`] when the file is in none of the directories.
    pub fn require(&self, file: DataFile) -> Result<&Path, Missing> {
        self.path(file).ok_or_else(|| self.missing(file))
    }

    /// The error for `file` not being found: where scry looked.
    pub fn missing(&self, file: DataFile) -> Missing {
        Missing { file, looked_in: self.dirs.iter().map(|d| d.path.clone()).collect() }
    }

    /// The OS database files: `--os-db` when given, else the `nmap-os-db` found.
    ///
    /// # Errors
    /// [`Missing`] without `--os-db` and without an `nmap-os-db`.
    pub fn os_db(&self, explicit: &[PathBuf]) -> Result<Vec<PathBuf>, Missing> {
        if !explicit.is_empty() {
            return Ok(explicit.to_vec());
        }
        Ok(vec![self.require(DataFile::OsDb)?.to_path_buf()])
    }

    /// One line per data file (its path, or "not found" and what that
    /// costs), then the search path; each line starts with `prefix`.
    pub fn describe(&self, prefix: &str) -> String {
        let mut text = String::new();
        for (file, path) in &self.found {
            let place = match path {
                Some(path) => path.display().to_string(),
                None => format!("not found ({})", file.without()),
            };
            text += &format!("{prefix}{:<21}{place}\n", file.name());
        }
        text += &format!("{prefix}searched, in order:\n");
        for dir in &self.dirs {
            text += &format!("{prefix}  {} ({})\n", dir.path.display(), dir.origin);
        }
        text
    }
}

/// A data file that is in none of the search path's directories.
#[derive(Clone, Debug)]
pub struct Missing {
    pub file: DataFile,
    pub looked_in: Vec<PathBuf>,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dirs: Vec<_> = self.looked_in.iter().map(|d| d.display().to_string()).collect();
        write!(
            f,
            "{} was not found (looked in {}); Debian's nmap-common package installs it without \
             nmap itself, or give --datadir DIR",
            self.file.name(),
            dirs.join(", ")
        )
    }
}

impl std::error::Error for Missing {}

/// Why a scan cannot do without `nmap-services`: it ranks ports or names them.
pub fn services_needed(args: &Args) -> Option<String> {
    if args.ping_scan {
        return None;
    }
    if args.fast {
        return Some("-F scans the 100 ports nmap-services ranks first".into());
    }
    if let Some(n) = args.top_ports {
        return Some(format!("--top-ports {n} picks ports by nmap-services' ranking"));
    }
    if args.ports.is_none() {
        return Some("without -p, scry scans the 1000 ports nmap-services ranks first".into());
    }
    let empty = Services::empty("no nmap-services");
    for (flag, spec) in [("-p", &args.ports), ("--exclude-ports", &args.exclude_ports)] {
        let Some(spec) = spec else { continue };
        if let Err(PortError::Bad { token, problem: PortProblem::UnknownService { .. } }) =
            PortList::parse(spec, &empty)
        {
            return Some(format!(
                "{flag} names a service (\"{token}\") that nmap-services would give a port"
            ));
        }
    }
    None
}

/// The services table: nmap's file when found, else an empty table with a
/// warning, or an error when the scan needs the file.
///
/// # Errors
/// The file does not parse, or is missing and [`services_needed`].
pub fn load_services(files: &DataFiles, args: &Args) -> anyhow::Result<Services> {
    if let Some(path) = files.path(DataFile::Services) {
        return Ok(Services::load(path)?);
    }
    let missing = files.missing(DataFile::Services);
    if let Some(why) = services_needed(args) {
        anyhow::bail!("{why}, but {missing}; or list ports by number with -p");
    }
    eprintln!("scry: warning: {missing}; ports are shown as \"unknown\"");
    Ok(Services::empty("no nmap-services"))
}

/// The version probes `-sV` reads: `--versiondb`, else the
/// `nmap-service-probes` found.
///
/// # Errors
/// [`Missing`] without `--versiondb` and without the file.
pub fn service_probes(files: &DataFiles, args: &Args) -> Result<PathBuf, Missing> {
    match &args.versiondb {
        Some(path) => Ok(path.clone()),
        None => files.require(DataFile::ServiceProbes).map(Path::to_path_buf),
    }
}

/// The UDP payload file for a scan without `--udp-payloads`: nmap's, when
/// found; else `None` (the built-in payloads), with a notice when the scan
/// sends UDP.
pub fn payloads(files: &DataFiles, args: &Args) -> Option<PathBuf> {
    let found = files.path(DataFile::Payloads).map(Path::to_path_buf);
    if found.is_none() && (args.udp_scan || args.udp_ping.is_some()) {
        let missing = files.missing(DataFile::Payloads);
        eprintln!("scry: notice: {missing}; UDP probes use scry's built-in payloads");
    }
    found
}

#[cfg(test)]
mod tests;
