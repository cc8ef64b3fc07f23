//! `scry-lab`: a namespace lab for humans.
//!
//! `scry-lab up` builds a fixed lab (a scanner and three targets with
//! different stacks), prints it, and holds it until SIGINT or SIGTERM.
//! `scry-lab status` lists the lab namespaces on this machine;
//! `scry-lab down` deletes them all. `scripts/lab.sh` wraps these.

use std::error::Error;
use std::io::{self, Write};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use scry_lab::{Lab, Personality, RejectWith, TargetSpec};

/// Printed once the lab is up; `scripts/lab.sh` waits for it.
const READY_LINE: &str = "scry-lab: ready";

#[derive(Parser)]
#[command(name = "scry-lab", about = "Network-namespace lab for trying scry and nmap by hand")]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the lab, print it, and keep it until SIGINT/SIGTERM.
    Up,
    /// List lab namespaces on this machine with their addresses.
    Status,
    /// Delete every lab namespace on this machine (live or stale).
    Down,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut out = io::stdout().lock();
    let result = match args.command {
        Cmd::Up => up(&mut out),
        Cmd::Status => status(&mut out),
        Cmd::Down => down(&mut out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `scry-lab status | head` is fine.
        Err(e) if e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("scry-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

/// The lab `up` builds: a Linux-default host, a Windows-like host, a host
/// that drops everything, and a Linux host behind the router.
fn human_lab() -> scry_lab::LabBuilder {
    Lab::builder()
        .target(
            TargetSpec::new()
                .tcp_listen(&[22, 80, 443])
                .udp_listen(&[53])
                .reject_tcp_port(25, RejectWith::AdminProhibited),
        )
        .target(TargetSpec::new().personality(Personality::windows_like()).tcp_listen(&[135, 139, 445, 3389]))
        .target(TargetSpec::new().tcp_listen(&[22, 80]).drop_all())
        .routed_target(TargetSpec::new().tcp_listen(&[22, 443]))
}

fn up(out: &mut impl Write) -> Result {
    // Block the signals before any thread exists so that every thread
    // inherits the mask and only `sigwait` below sees them.
    let signals = scry_lab::Termination::block()?;
    let lab = human_lab().build()?;
    let scanner = lab.scanner().ns();
    let t0 = lab.targets().first().map(|t| t.ipv4().to_string()).unwrap_or_default();
    writeln!(out, "{lab}")?;
    writeln!(out, "try:  ip netns exec {scanner} nmap -sS -p 22,25,80 {t0}")?;
    if let Some(r0) = lab.routed().first() {
        writeln!(
            out,
            "      ip netns exec {scanner} nmap -sS -p 22,443 {}   # behind the router",
            r0.ipv4()
        )?;
    }
    writeln!(out, "      ip netns exec {scanner} bash   # a shell on the scanner")?;
    writeln!(out, "{READY_LINE} (pid {}); stop with SIGINT/SIGTERM or `scry-lab down`", std::process::id())?;
    // stdout may be a file (scripts/lab.sh): make the banner visible now.
    out.flush()?;
    let sig = signals.wait()?;
    writeln!(out, "scry-lab: signal {sig}, tearing down {}", lab.prefix())?;
    drop(lab);
    Ok(())
}

fn status(out: &mut impl Write) -> Result {
    let labs = scry_lab::list_labs()?;
    if labs.is_empty() {
        writeln!(out, "no lab namespaces")?;
        return Ok(());
    }
    for (id, nodes) in labs {
        let state =
            if std::path::Path::new("/proc").join(id.pid.to_string()).exists() { "running" } else { "stale" };
        writeln!(out, "lab {} (pid {}, {state})", id.prefix(), id.pid)?;
        for (role, ns) in nodes {
            if role == scry_lab::Role::Hub {
                writeln!(out, "  {:<5} {ns}", role.label())?;
                continue;
            }
            let addrs =
                capture(Command::new("ip").args(["-n", &ns, "-br", "addr", "show", "dev", scry_lab::IFACE]));
            let addrs: Vec<&str> = addrs.split_whitespace().skip(2).collect();
            let ports = listening_ports(&ns);
            let line = format!("  {:<5} {ns:<16} {:<32} {ports}", role.label(), addrs.join(" "));
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    Ok(())
}

/// `tcp:22,80 udp:53` from `ss` inside `ns`; empty when nothing listens.
fn listening_ports(ns: &str) -> String {
    let mut out = Vec::new();
    for (proto, flag) in [("tcp", "-Hltn"), ("udp", "-Hlun")] {
        let text = capture(Command::new("ip").args(["netns", "exec", ns, "ss", flag]));
        let mut ports: Vec<u16> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(3))
            .filter_map(|local| local.rsplit(':').next()?.parse().ok())
            .collect();
        ports.sort_unstable();
        ports.dedup();
        if !ports.is_empty() {
            let list: Vec<String> = ports.iter().map(u16::to_string).collect();
            out.push(format!("{proto}:{}", list.join(",")));
        }
    }
    out.join(" ")
}

/// The stdout of `cmd`, or empty if it could not run.
fn capture(cmd: &mut Command) -> String {
    cmd.output().map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

fn down(out: &mut impl Write) -> Result {
    let gone = scry_lab::sweep_all()?;
    writeln!(out, "deleted {} namespaces", gone.len())?;
    for ns in gone {
        writeln!(out, "  {ns}")?;
    }
    Ok(())
}
