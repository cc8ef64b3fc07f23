//! scry: the command line. Arguments -> resolved plan -> engine -> sinks.

mod cli;
mod config;
mod engine;
mod osmatch;
mod output;
mod progress;

use anyhow::Context;
use clap::Parser;
use scry_capture::{CaptureConfig, Interface, RawSender, Receiver};
use scry_probe::services::Services;
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A problem with what the user asked for (exit status 2), as opposed to a
/// failure while doing it (exit status 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("scry: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe))
}

fn run() -> anyhow::Result<ExitCode> {
    let argv: Vec<_> = std::env::args_os().collect();
    let command_line = argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ");
    let args = cli::Args::parse_from(cli::nmap_aliases(argv));
    if let Some(input) = &args.os_match {
        let json = args.output_json.as_deref().is_some_and(|p| p.as_os_str() == "-");
        osmatch::run(input, &args.os_db, json, args.osscan_guess)?;
        return Ok(ExitCode::SUCCESS);
    }
    let outputs = outputs(&args)?;
    let services = Arc::new(Services::load_default().context("loading nmap-services")?);
    let resolved = config::resolve(&args, &services, command_line)?;

    // Open the wire before anything is sent: privilege problems surface here.
    let iface = Interface::by_name(&resolved.iface)?;
    let capture = CaptureConfig { filter: resolved.filter.clone(), ..CaptureConfig::default() };
    let rx = Receiver::open(&iface.name, &capture)?;
    let tx = RawSender::open(&iface)?;

    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = Arc::clone(&stop);
    ctrlc::set_handler(move || handler_stop.store(true, Ordering::Relaxed))
        .context("installing the Ctrl-C/SIGTERM handler")?;

    let options =
        output::ReportOptions { open_only: args.open, reason: args.reason, verbose: args.verbose > 0 };
    let mut sinks = sinks(&args, &outputs, options, &services)?;
    let counters = Arc::new(engine::Counters::default());
    if let Some(mode) = progress::Mode::choose(args.quiet, args.stats_every, io::stderr().is_terminal()) {
        let total = progress::first_pass_probes(&resolved.plan);
        // First, so that it stops before the other sinks print their tables.
        sinks.insert(0, Box::new(progress::Progress::new(mode, Arc::clone(&counters), total)));
    }
    engine::run(&resolved.plan, rx, tx, &mut sinks, &stop, &counters)?;
    Ok(ExitCode::SUCCESS)
}

fn create(path: &std::path::Path) -> anyhow::Result<Box<dyn Write + Send>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(io::stdout()));
    }
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(Box::new(BufWriter::new(file)))
}

/// An output format a file (or standard output) is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Normal,
    Xml,
    Grepable,
    Json,
}

/// The outputs asked for, as (format, path); `-` is standard output.
///
/// # Errors
/// [`UsageError`] when more than one output asks for standard output.
fn outputs(args: &cli::Args) -> Result<Vec<(Format, PathBuf)>, UsageError> {
    let single = [
        (Format::Normal, &args.output_normal, "-oN"),
        (Format::Xml, &args.output_xml, "-oX"),
        (Format::Grepable, &args.output_grepable, "-oG"),
        (Format::Json, &args.output_json, "-oJ"),
    ];
    let mut list: Vec<(Format, PathBuf)> = Vec::new();
    let mut to_stdout = Vec::new();
    for (format, path, flag) in single {
        if let Some(path) = path {
            if path.as_os_str() == "-" {
                to_stdout.push(flag);
            }
            list.push((format, path.clone()));
        }
    }
    if let Some(base) = &args.output_all {
        if base.as_os_str() == "-" {
            return Err(UsageError("-oA writes four files and cannot write to standard output (-)".into()));
        }
        for (format, extension) in [
            (Format::Normal, "nmap"),
            (Format::Xml, "xml"),
            (Format::Grepable, "gnmap"),
            (Format::Json, "json"),
        ] {
            let mut path = base.clone().into_os_string();
            path.push(".");
            path.push(extension);
            list.push((format, path.into()));
        }
    }
    if to_stdout.len() > 1 {
        return Err(UsageError(format!(
            "only one output can go to standard output (-), but {} ask for it",
            to_stdout.join(" and ")
        )));
    }
    Ok(list)
}

/// A sink for each output, plus normal output on stdout unless another format took it.
fn sinks(
    args: &cli::Args,
    outputs: &[(Format, PathBuf)],
    options: output::ReportOptions,
    services: &Arc<Services>,
) -> anyhow::Result<Vec<Box<dyn output::Sink>>> {
    let stylesheet = match (&args.stylesheet, args.webxml, args.no_stylesheet) {
        (_, _, true) => None,
        (_, true, _) => Some(output::WEB_STYLESHEET.to_owned()),
        (Some(href), _, _) => Some(href.clone()),
        (None, false, false) => Some(output::STYLESHEET.to_owned()),
    };
    let mut sinks: Vec<Box<dyn output::Sink>> = Vec::new();
    if !outputs.iter().any(|(_, path)| path.as_os_str() == "-") {
        sinks.push(Box::new(output::Normal::new(io::stdout(), Arc::clone(services), options)));
    }
    for (format, path) in outputs {
        let out = create(path)?;
        let services = Arc::clone(services);
        sinks.push(match format {
            Format::Normal => Box::new(output::Normal::new(out, services, options)),
            Format::Xml => {
                Box::new(output::Xml::new(out, services, options).with_stylesheet(stylesheet.clone()))
            }
            Format::Grepable => Box::new(output::Grepable::new(out, services, options)),
            Format::Json => Box::new(output::JsonLines::new(out, services)),
        });
    }
    Ok(sinks)
}
