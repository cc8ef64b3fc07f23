//! Running nmap's OS detection in the lab and reading its XML report.
//!
//! nmap 7.93 writes, per host, the `osmatch` elements it names (with their
//! `osclass` and `cpe` children) and an `osfingerprint` element whose
//! `fingerprint` attribute is the subject fingerprint in the wrapped `OS:`
//! form (output.cc `printosscanoutput`). When some reference matches
//! perfectly, 7.93 writes that element only with `-vv` or `-d` (checked in
//! the lab: plain and `-v` leave it out). We pass `-vv`: `-d` would also
//! change which matches are listed (more than 8 perfect ones are named
//! under `-d` only), and `-vv` writes nothing else to the XML on stdout.
//!
//! `--max-os-tries 1`: without it nmap repeats detection up to five times
//! when nothing matches perfectly, keeps the best try's matches, and prints
//! the tries' fingerprints merged (tests that differ between tries appear
//! more than once). The matches would then belong to one try that the XML
//! does not identify. With one try the printed fingerprint is exactly the
//! one nmap matched.

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use scry_lab::Lab;
use scry_os::{Database, OsMatch};

use super::{CLOSED_TCP, CLOSED_UDP, OPEN_TCP};

/// A class of an `osmatch`, as nmap writes it (`osclass`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuessClass {
    pub device_type: String,
    pub vendor: String,
    pub family: String,
    pub generation: Option<String>,
    /// `(int)(accuracy * 100)` of the match.
    pub accuracy: u32,
    pub cpe: Vec<String>,
}

/// One named match (`osmatch`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guess {
    pub name: String,
    pub accuracy: u32,
    /// Line of the `Fingerprint` line in the database nmap read.
    pub line: usize,
    pub classes: Vec<GuessClass>,
}

impl Guess {
    /// scry's match in nmap's terms; `line_offset` is added to the line of
    /// references from every file but the first, which is how the line
    /// reads in the files concatenated (see [`concatenated_db`]).
    pub fn from_scry(db: &Database, m: &OsMatch, line_offsets: &[usize]) -> Guess {
        let source = db.source_of(&db.references()[m.index]);
        let file = db.sources().iter().position(|s| s == source).unwrap_or(0);
        Guess {
            name: m.name.to_string(),
            accuracy: m.percent(),
            line: m.line + line_offsets.get(file).copied().unwrap_or(0),
            classes: m
                .classes
                .iter()
                .map(|c| GuessClass {
                    device_type: c.device_type.clone(),
                    vendor: c.vendor.clone(),
                    family: c.family.clone(),
                    generation: c.generation.clone(),
                    accuracy: m.percent(),
                    cpe: c.cpe.iter().map(|cpe| cpe.name.clone()).collect(),
                })
                .collect(),
        }
    }
}

/// What nmap reported for one host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostReport {
    pub addr: Option<Ipv4Addr>,
    /// The `osfingerprint/@fingerprint` text, entities decoded.
    pub fingerprint: Option<String>,
    pub matches: Vec<Guess>,
    /// `(proto, port, state)` of each `portused`.
    pub ports_used: Vec<(String, u16, String)>,
}

/// `nmap --version`'s first line, run in the current namespace (sends nothing).
pub fn version() -> Result<String, String> {
    let out = Command::new("nmap").arg("--version").output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or_default().to_owned();
    if out.status.success() && first.contains("Nmap version") {
        Ok(first)
    } else {
        Err(format!("nmap --version: {}: {first}", out.status))
    }
}

/// The command line of one OS scan of every lab target. `datadir` is where
/// nmap reads `nmap-os-db` first (`--datadir`).
pub fn os_scan_command(lab: &Lab, datadir: &Path) -> Command {
    let mut cmd = lab.scanner().command("nmap");
    // nmap reads extra arguments from NMAP_ARGS and data files from NMAPDIR.
    cmd.env_remove("NMAP_ARGS").env_remove("NMAPDIR");
    cmd.args(["-O", "--osscan-guess", "-vv", "-n", "-Pn", "-sS", "-sU", "--max-os-tries", "1"]);
    // -sU on the closed UDP port fixes the port of the U1 probe (else random).
    cmd.arg("-p").arg(format!("T:{OPEN_TCP},{CLOSED_TCP},U:{CLOSED_UDP}"));
    cmd.arg("--datadir").arg(datadir);
    cmd.args(["-oX", "-"]);
    cmd.args(lab.targets().iter().map(|t| t.ipv4().to_string()));
    cmd
}

/// Runs [`os_scan_command`] and parses the report; one entry per target,
/// in lab order.
///
/// # Panics
/// When nmap fails, its XML does not parse, or a target is missing.
pub fn os_scan(lab: &Lab, datadir: &Path) -> Vec<HostReport> {
    let mut cmd = os_scan_command(lab, datadir);
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{cmd:?}: {}\nstderr:\n{}\nstdout:\n{stdout}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let hosts = parse_report(&stdout).unwrap_or_else(|e| panic!("nmap's XML: {e}\n{stdout}"));
    lab.targets()
        .iter()
        .map(|t| {
            hosts
                .iter()
                .find(|h| h.addr == Some(t.ipv4()))
                .cloned()
                .unwrap_or_else(|| panic!("nmap reported nothing for {}\n{stdout}", t.ipv4()))
        })
        .collect()
}

fn attr(e: &BytesStart<'_>, name: &str) -> Result<Option<String>, String> {
    match e.try_get_attribute(name).map_err(|err| err.to_string())? {
        None => Ok(None),
        Some(a) => a.unescape_value().map(|v| Some(v.into_owned())).map_err(|err| err.to_string()),
    }
}

fn required(e: &BytesStart<'_>, name: &str) -> Result<String, String> {
    let element = String::from_utf8_lossy(e.name().as_ref()).into_owned();
    attr(e, name)?.ok_or_else(|| format!("<{element}> without {name}="))
}

fn number<T: std::str::FromStr>(e: &BytesStart<'_>, name: &str) -> Result<T, String> {
    let text = required(e, name)?;
    text.parse().map_err(|_| format!("{name}=\"{text}\" is not a number"))
}

/// Reads the `host` elements of an nmap XML report.
pub fn parse_report(xml: &str) -> Result<Vec<HostReport>, String> {
    let mut reader = Reader::from_str(xml);
    let mut hosts = Vec::new();
    let mut host: Option<HostReport> = None;
    let mut in_cpe = false;
    loop {
        let at = reader.buffer_position();
        let event = reader.read_event().map_err(|e| format!("at byte {at}: {e}"))?;
        match event {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name();
                if name.as_ref() == b"host" {
                    host = Some(HostReport::default());
                    continue;
                }
                let Some(h) = host.as_mut() else { continue };
                match name.as_ref() {
                    b"address" if attr(&e, "addrtype")?.as_deref() == Some("ipv4") => {
                        let addr = required(&e, "addr")?;
                        h.addr = Some(addr.parse().map_err(|_| format!("address {addr}"))?);
                    }
                    b"portused" => h.ports_used.push((
                        required(&e, "proto")?,
                        number(&e, "portid")?,
                        required(&e, "state")?,
                    )),
                    b"osmatch" => h.matches.push(Guess {
                        name: required(&e, "name")?,
                        accuracy: number(&e, "accuracy")?,
                        line: number(&e, "line")?,
                        classes: Vec::new(),
                    }),
                    b"osclass" => {
                        let class = GuessClass {
                            device_type: required(&e, "type")?,
                            vendor: required(&e, "vendor")?,
                            family: required(&e, "osfamily")?,
                            generation: attr(&e, "osgen")?,
                            accuracy: number(&e, "accuracy")?,
                            cpe: Vec::new(),
                        };
                        h.matches.last_mut().ok_or("<osclass> outside <osmatch>")?.classes.push(class);
                    }
                    b"cpe" => in_cpe = h.matches.last().is_some_and(|m| !m.classes.is_empty()),
                    b"osfingerprint" => h.fingerprint = Some(required(&e, "fingerprint")?),
                    _ => {}
                }
            }
            Event::Text(t) if in_cpe => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                let class = host
                    .as_mut()
                    .and_then(|h| h.matches.last_mut())
                    .and_then(|m| m.classes.last_mut())
                    .ok_or("<cpe> outside <osclass>")?;
                class.cpe.push(text.trim().to_owned());
            }
            Event::End(e) => match e.name().as_ref() {
                b"cpe" | b"osclass" | b"osmatch" => in_cpe = false,
                b"host" => hosts.extend(host.take()),
                _ => {}
            },
            _ => {}
        }
    }
    Ok(hosts)
}

/// A directory for `--datadir` whose `nmap-os-db` is `files` joined in
/// order with a blank line between them (a blank line ends an entry), and
/// the line offset of each file in it. Removed on drop.
pub struct Datadir {
    pub path: std::path::PathBuf,
    pub line_offsets: Vec<usize>,
}

impl Datadir {
    /// Writes `<tmp>/scry-lab-oracle-<pid>-<tag>/nmap-os-db`.
    pub fn concatenated(tag: &str, files: &[&Path]) -> Datadir {
        let path = std::env::temp_dir().join(format!("scry-lab-oracle-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        let mut text = String::new();
        let mut line_offsets = Vec::new();
        for file in files {
            let part = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if !text.is_empty() {
                // A blank line ends the previous file's last entry.
                if !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push('\n');
            }
            line_offsets.push(text.lines().count());
            text.push_str(&part);
        }
        let db = path.join("nmap-os-db");
        std::fs::write(&db, text).unwrap_or_else(|e| panic!("write {}: {e}", db.display()));
        Datadir { path, line_offsets }
    }
}

impl Drop for Datadir {
    fn drop(&mut self) {
        // A leftover temporary directory is harmless.
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
