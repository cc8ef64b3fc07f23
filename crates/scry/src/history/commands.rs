//! `scry history`, `scry show`, `scry diff` and `scry import`: looking
//! back at the scans the history keeps (docs/history.md).
//!
//! Each is the first word of the command line; any other first word
//! starts a scan (a target named like a command is written `./history`
//! or as an address).

use super::{location, open, Location, FORMATS};
use crate::output::Civil;
use crate::UsageError;
use anyhow::Context;
use clap::{Args as ClapArgs, Parser, Subcommand};
use scry_store::diff::{diff, write_jsonl, write_text, write_xml};
use scry_store::import::{json, nmap_xml, ImportedScan};
use scry_store::{History, Observation, OutputChunk, ScanId, ScanStatus, Subject, SubjectSummary};
use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The command words.
const COMMANDS: [&str; 4] = ["history", "show", "diff", "import"];

#[derive(Parser, Debug)]
#[command(name = "scry", disable_version_flag = true)]
struct Look {
    #[command(subcommand)]
    command: Command,
}

#[derive(ClapArgs, Debug)]
struct Db {
    /// History database: a file (SQLite) or postgres://USER@HOST/DB
    /// (default: $XDG_DATA_HOME/scry/history.db; root: /var/lib/scry/history.db).
    #[arg(long = "db", value_name = "PATH|URL")]
    db: Option<String>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the scans in the history, oldest first (the shards of a run as one).
    History {
        #[command(flatten)]
        db: Db,
    },
    /// Print a stored scan as it printed itself (normal output unless -oX, -oG, -oJ or -oN say otherwise).
    Show {
        /// A scan id or a run id (default: the last scan).
        #[arg(value_name = "SCAN")]
        scan: Option<String>,
        #[command(flatten)]
        db: Db,
        /// Normal output to FILE, - for standard output [-oN].
        #[arg(long = "output-normal", value_name = "FILE")]
        normal: Option<PathBuf>,
        /// XML to FILE [-oX].
        #[arg(long = "output-xml", value_name = "FILE")]
        xml: Option<PathBuf>,
        /// Grepable output to FILE [-oG].
        #[arg(long = "output-grepable", value_name = "FILE")]
        grepable: Option<PathBuf>,
        /// JSON Lines to FILE [-oJ].
        #[arg(long = "output-json", value_name = "FILE")]
        json: Option<PathBuf>,
        /// Instead: each port the scan recorded, with when it was first and
        /// last seen in the same state over every scan.
        #[arg(long = "seen")]
        seen: bool,
    },
    /// What changed from scan A to scan B (default: the last two complete
    /// scans of one scope; with A only, the complete scan before A of its
    /// scope). Exit status 0: no change, 1: changes, 2: error, as ndiff.
    Diff {
        /// The scan (or run) before: a scan id from `scry history`, or a run id.
        #[arg(value_name = "A")]
        a: Option<String>,
        /// The scan (or run) after.
        #[arg(value_name = "B")]
        b: Option<String>,
        #[command(flatten)]
        db: Db,
        /// Compare a scan that was cut short or a run missing shards anyway
        /// (only what it recorded).
        #[arg(long = "force")]
        force: bool,
        /// ndiff's XML.
        #[arg(long = "xml", conflicts_with_all = ["json", "text"])]
        xml: bool,
        /// JSON Lines.
        #[arg(long = "json", conflicts_with = "text")]
        json: bool,
        /// ndiff's text (the default).
        #[arg(long = "text")]
        text: bool,
    },
    /// Store result files as scans: nmap XML, masscan JSON (-oJ) and scry JSON Lines (-oJ).
    Import {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        db: Db,
    },
}

/// Runs a history command when `argv`'s first word names one; `None` for a scan.
///
/// # Errors
/// Bad arguments ([`UsageError`]), or a history that cannot be read or written.
pub fn dispatch(argv: Vec<OsString>) -> anyhow::Result<Option<ExitCode>> {
    // `scry --db URL history` as well as `scry history --db URL`.
    let mut argv = argv;
    let lead = match argv.get(1).and_then(|w| w.to_str()) {
        Some("--db") => 3,
        Some(w) if w.starts_with("--db=") => 2,
        _ => 1,
    };
    let Some(word) = argv.get(lead).and_then(|w| w.to_str()) else { return Ok(None) };
    if !COMMANDS.contains(&word) {
        return Ok(None);
    }
    let word = argv.remove(lead);
    argv.insert(1, word);
    let look = match Look::try_parse_from(crate::cli::nmap_aliases(argv)) {
        Ok(look) => look,
        Err(e) if e.use_stderr() => return Err(UsageError(e.to_string().trim_end().to_owned()).into()),
        Err(e) => {
            print!("{e}");
            return Ok(Some(ExitCode::SUCCESS));
        }
    };
    let code = match look.command {
        Command::History { db } => {
            let Some(store) = existing(&db)? else { return Ok(Some(ExitCode::SUCCESS)) };
            list(store.as_ref(), &mut io::stdout().lock())?;
            ExitCode::SUCCESS
        }
        Command::Show { scan, db, normal, xml, grepable, json, seen } => {
            let store = existing(&db)?.ok_or_else(|| UsageError("no scan to show".into()))?;
            let ids = scans_of(store.as_ref(), scan.as_deref())?;
            if seen {
                print_seen(store.as_ref(), &ids, &mut io::stdout().lock())?;
            } else {
                let mut wanted: Vec<(&str, PathBuf)> =
                    [("normal", normal), ("xml", xml), ("grepable", grepable), ("json", json)]
                        .into_iter()
                        .filter_map(|(f, p)| p.map(|p| (f, p)))
                        .collect();
                if wanted.is_empty() {
                    wanted.push(("normal", PathBuf::from("-")));
                }
                for (format, path) in wanted {
                    let mut out = crate::create(&path, false)?;
                    show(store.as_ref(), &ids, format, &mut out)?;
                    out.flush()?;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Diff { a, b, db, force, xml, json, text: _ } => {
            let store = existing(&db)?.ok_or_else(|| UsageError("no scans to compare".into()))?;
            let (a, b) = pair(store.as_ref(), a.as_deref(), b.as_deref())?;
            let d = diff(&store.load_subject(&a)?, &store.load_subject(&b)?, force)
                .map_err(|e| UsageError(e.to_string()))?;
            for warning in &d.warnings {
                eprintln!("scry: {warning}");
            }
            let mut out = io::stdout().lock();
            match (xml, json) {
                (true, _) => write_xml(&d, &mut out)?,
                (_, true) => write_jsonl(&d, &mut out)?,
                _ => write_text(&d, &mut out)?,
            }
            out.flush()?;
            ExitCode::from(u8::from(d.has_changes()))
        }
        Command::Import { files, db } => {
            let at = location(db.db.as_deref(), false).expect("a location without --no-db");
            let mut store = open(&at)?;
            for file in files {
                let (id, scan) = import(store.as_mut(), &file)?;
                println!(
                    "{}: scan {id} ({}, {} hosts up, {} ports)",
                    file.display(),
                    scan.status,
                    scan.stats.hosts_up,
                    scan.observations.iter().filter(|o| matches!(o, Observation::Port(_))).count()
                );
            }
            ExitCode::SUCCESS
        }
    };
    Ok(Some(code))
}

/// The history to read; `None` (said on stderr) when the default file
/// does not exist yet, so looking does not create it.
fn existing(db: &Db) -> anyhow::Result<Option<Box<dyn History>>> {
    let at: Location = location(db.db.as_deref(), false).expect("a location without --no-db");
    if !at.explicit && !std::path::Path::new(&at.text).exists() {
        eprintln!("scry: no scan recorded yet ({} does not exist)", at.text);
        return Ok(None);
    }
    Ok(Some(open(&at)?))
}

/// `scry history`: one line per scan or run.
fn list(store: &dyn History, out: &mut impl Write) -> anyhow::Result<()> {
    let subjects = store.list_subjects()?;
    writeln!(
        out,
        "{:<14} {:<20} {:<11} {:>8} {:>6}  TARGETS",
        "SCAN", "STARTED", "STATUS", "HOSTS UP", "OPEN"
    )?;
    for s in &subjects {
        let targets: Vec<&str> = s.scans.iter().map(|scan| scan.targets.as_str()).collect();
        let mut targets = targets.first().copied().unwrap_or_default().to_owned();
        if targets.is_empty() {
            targets = "(imported)".into();
        }
        writeln!(
            out,
            "{:<14} {:<20} {:<11} {:>8} {:>6}  {}{}",
            subject_name(s),
            Civil::utc(s.started).short(),
            s.status.as_str(),
            s.hosts_up,
            s.open_ports,
            targets,
            missing(s)
        )?;
    }
    Ok(())
}

fn subject_name(s: &SubjectSummary) -> String {
    match &s.subject {
        Subject::Scan(id) => id.to_string(),
        Subject::Run(run) => format!("{run} ({} shards)", s.scans[0].shard.1),
    }
}

fn missing(s: &SubjectSummary) -> String {
    match s.missing_shards.is_empty() {
        true => String::new(),
        false => format!(
            "  (missing shard {})",
            s.missing_shards.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// What `name` names: a scan id (`7`) or a run id.
fn subject(store: &dyn History, name: &str) -> anyhow::Result<Subject> {
    match name.parse::<i64>() {
        Ok(id) => Ok(store.subject_of(ScanId(id))?),
        Err(_) => {
            if store.run_scans(name)?.is_empty() {
                return Err(UsageError(format!("no scan or run named \"{name}\" in the history")).into());
            }
            Ok(Subject::Run(name.to_owned()))
        }
    }
}

/// The scans `scry show NAME` prints: the scan itself (a scan id of a
/// shard shows that shard), every shard of a run, or the last scan.
fn scans_of(store: &dyn History, name: Option<&str>) -> anyhow::Result<Vec<ScanId>> {
    match name {
        None => {
            let last = store.list_scans()?.last().map(|s| s.id);
            Ok(vec![last.ok_or_else(|| UsageError("no scan recorded yet".into()))?])
        }
        Some(name) => match name.parse::<i64>() {
            Ok(id) => {
                store.subject_of(ScanId(id))?;
                Ok(vec![ScanId(id)])
            }
            Err(_) => match subject(store, name)? {
                Subject::Run(run) => Ok(store.run_scans(&run)?),
                Subject::Scan(id) => Ok(vec![id]),
            },
        },
    }
}

/// Prints what the scans printed in `format`, in order.
fn show(store: &dyn History, ids: &[ScanId], format: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    for id in ids {
        match store.load_output(*id, format)? {
            Some(text) => out.write_all(text.as_bytes())?,
            None => {
                let kept: Vec<&str> = FORMATS
                    .iter()
                    .copied()
                    .filter(|f| matches!(store.load_output(*id, f), Ok(Some(_))))
                    .collect();
                let why = match kept.is_empty() {
                    true => {
                        "none was kept (a masscan import, or a scan from before scry kept outputs)".to_owned()
                    }
                    false => format!("it has {}", kept.join(", ")),
                };
                return Err(UsageError(format!("scan {id} has no {format} output: {why}")).into());
            }
        }
    }
    Ok(())
}

/// `scry show --seen`: each recorded port with its first and last sighting in its state.
fn print_seen(store: &dyn History, ids: &[ScanId], out: &mut impl Write) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<16} {:<10} {:<14} {:<26} {:<26} SCANS",
        "HOST", "PORT", "STATE", "FIRST SEEN", "LAST SEEN"
    )?;
    let when = |t, scan: ScanId| format!("{} (scan {scan})", Civil::utc(t).short());
    for id in ids {
        for p in store.load_scan(*id)?.ports {
            let Some(seen) = store.port_seen(p.ip, p.protocol, p.port, Some(p.state))? else { continue };
            writeln!(
                out,
                "{:<16} {:<10} {:<14} {:<26} {:<26} {}",
                p.ip.to_string(),
                format!("{}/{}", p.port, p.protocol.as_str()),
                p.state.as_str(),
                when(seen.first, seen.first_scan),
                when(seen.last, seen.last_scan),
                seen.scans
            )?;
        }
    }
    Ok(())
}

/// The two sides `scry diff` compares, older first.
fn pair(store: &dyn History, a: Option<&str>, b: Option<&str>) -> anyhow::Result<(Subject, Subject)> {
    match (a, b) {
        (Some(a), Some(b)) => Ok((subject(store, a)?, subject(store, b)?)),
        (Some(a), None) => {
            let after = subject(store, a)?;
            let subjects = store.list_subjects()?;
            let at = subjects.iter().position(|s| s.subject == after).context("the scan is not listed")?;
            let key = &subjects[at].scope_key;
            let before = subjects[..at]
                .iter()
                .rev()
                .find(|s| s.status == ScanStatus::Complete && &s.scope_key == key)
                .ok_or_else(|| UsageError(format!("no complete scan of the same scope before {a}")))?;
            Ok((before.subject.clone(), after))
        }
        _ => store.last_two_complete()?.ok_or_else(|| {
            UsageError(
                "the history has no two complete scans of one scope to compare; name them: scry diff A B"
                    .into(),
            )
            .into()
        }),
    }
}

/// Reads a result file by its first character and stores it, keeping the
/// file itself as the scan's output in its format.
fn import(store: &mut dyn History, file: &std::path::Path) -> anyhow::Result<(ScanId, ImportedScan)> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let name = file.display().to_string();
    let bad = |e: scry_store::import::ImportError| UsageError(e.to_string());
    let (mut scan, format) = match text.trim_start().chars().next() {
        Some('<') => (nmap_xml::read(&name, &text).map_err(bad)?, Some("xml")),
        Some('[') => (json::read_masscan(&name, &text).map_err(bad)?, None),
        Some('{') => (json::read_scry(&name, &text).map_err(bad)?, Some("json")),
        _ => {
            return Err(UsageError(format!(
                "{name}: not a result file scry reads (nmap XML, masscan JSON or scry JSON Lines)"
            ))
            .into())
        }
    };
    let kept = scan.clone();
    if let Some(format) = format {
        scan.observations.push(Observation::Output(OutputChunk { format: format.into(), text }));
    }
    Ok((store.import(scan)?, kept))
}
