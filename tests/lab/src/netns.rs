//! Namespace plumbing: unique names, running `ip`/`nft`, entering a
//! namespace from a thread, and sweeping labs whose process has died.
//!
//! Every lab namespace is named `scry<pid>x<counter><role>`, where `pid` is
//! the process that built it and `counter` counts labs within that process,
//! so labs in one test binary and in parallel test binaries never collide,
//! and a namespace whose `pid` is gone can be recognised as stale.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::error::LabError;
use crate::sys;

/// Where `ip netns` keeps its namespace handles.
pub const NETNS_DIR: &str = "/run/netns";
/// Every lab namespace name starts with this.
const NAME_PREFIX: &str = "scry";
/// Serialises namespace creation and sweeping across processes.
const LOCK_FILE: &str = "/run/scry-lab.lock";

/// Where a namespace sits in a lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Holds the bridge every node's veth peer is attached to.
    Hub,
    /// The scanner node.
    Scanner,
    /// Target node `i` (0-based), on the scanner's link.
    Target(usize),
    /// The router between the scanner's link and the far link; exists when
    /// the lab has routed targets.
    Router,
    /// Routed target `j` (0-based), on the far side of the router.
    Routed(usize),
}

impl Role {
    /// The short label used in namespace names and tables: `hub`, `scan`,
    /// `t0`, `rt` (the router), `r0` (a routed target).
    pub fn label(self) -> String {
        match self {
            Role::Hub => "hub".to_owned(),
            Role::Scanner => "scan".to_owned(),
            Role::Target(i) => format!("t{i}"),
            Role::Router => "rt".to_owned(),
            Role::Routed(j) => format!("r{j}"),
        }
    }
}

/// Identifies one lab: the process that built it and its number there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabId {
    /// The pid of the process that built the lab.
    pub pid: u32,
    /// The lab's number within that process.
    pub counter: u32,
}

impl LabId {
    /// A fresh id for a lab built by this process.
    pub(crate) fn next() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        Self { pid: std::process::id(), counter: COUNTER.fetch_add(1, Ordering::Relaxed) }
    }

    /// The common prefix of all the lab's namespace names, e.g. `scry4242x0`.
    pub fn prefix(&self) -> String {
        format!("{NAME_PREFIX}{}x{}", self.pid, self.counter)
    }

    /// The namespace name of the node with `role`, e.g. `scry4242x0t1`.
    pub fn ns_name(&self, role: Role) -> String {
        format!("{}{}", self.prefix(), role.label())
    }
}

/// Splits a leading run of ASCII digits off `s` and parses it.
fn split_number(s: &str) -> Option<(u32, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let n = s[..end].parse().ok()?;
    Some((n, &s[end..]))
}

/// Reads a namespace name made by [`LabId::ns_name`] back; `None` for any
/// other name, so foreign namespaces are never touched.
pub fn parse_ns_name(name: &str) -> Option<(LabId, Role)> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (pid, rest) = split_number(rest)?;
    let rest = rest.strip_prefix('x')?;
    let (counter, rest) = split_number(rest)?;
    let role = match rest {
        "hub" => Role::Hub,
        "scan" => Role::Scanner,
        "rt" => Role::Router,
        _ => {
            let (make, numbered): (fn(usize) -> Role, &str) = match rest.strip_prefix('t') {
                Some(n) => (Role::Target, n),
                None => (Role::Routed, rest.strip_prefix('r')?),
            };
            let (i, tail) = split_number(numbered)?;
            if !tail.is_empty() {
                return None;
            }
            make(i as usize)
        }
    };
    Some((LabId { pid, counter }, role))
}

/// All lab namespaces present on the machine, grouped by lab.
pub fn list_labs() -> Result<BTreeMap<LabId, Vec<(Role, String)>>, LabError> {
    let mut labs: BTreeMap<LabId, Vec<(Role, String)>> = BTreeMap::new();
    let entries = match std::fs::read_dir(NETNS_DIR) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(labs),
        Err(e) => return Err(LabError::io(format!("list {NETNS_DIR}"), e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| LabError::io(format!("list {NETNS_DIR}"), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((id, role)) = parse_ns_name(&name) {
            labs.entry(id).or_default().push((role, name));
        }
    }
    for nodes in labs.values_mut() {
        nodes.sort();
    }
    Ok(labs)
}

/// Whether the namespace `name` currently exists.
pub(crate) fn exists(name: &str) -> bool {
    ns_path(name).exists()
}

/// The handle file of namespace `name`.
pub(crate) fn ns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Deletes the lab namespaces whose building process no longer runs.
/// Returns the names deleted. Labs of live processes (including the
/// `scry-lab up` of a human) are left alone.
///
/// # Errors
/// Listing `/run/netns` or running `ip netns del` failed.
pub fn sweep_stale() -> Result<Vec<String>, LabError> {
    // A previous process with our pid may have died leaving namespaces
    // behind; they would collide with ours, so clear them once, before this
    // process builds its first lab.
    static OWN_PID_SWEPT: OnceLock<()> = OnceLock::new();
    let me = std::process::id();
    OWN_PID_SWEPT.get_or_init(|| {
        // Best effort: a failure here shows up as a clear `ip netns add` error.
        let _ = sweep_where(|id| id.pid == me);
    });
    sweep_where(|id| id.pid != me && !sys::pid_alive(id.pid))
}

/// Deletes every lab namespace on the machine, live or not. For
/// `scry-lab down`; tests use [`sweep_stale`].
///
/// # Errors
/// Listing `/run/netns` or running `ip netns del` failed.
pub fn sweep_all() -> Result<Vec<String>, LabError> {
    sweep_where(|_| true)
}

fn sweep_where(doomed: impl Fn(&LabId) -> bool) -> Result<Vec<String>, LabError> {
    let _lock = global_lock()?;
    let names: Vec<String> = list_labs()?
        .into_iter()
        .filter(|(id, _)| doomed(id))
        .flat_map(|(_, nodes)| nodes.into_iter().map(|(_, name)| name))
        .collect();
    delete(&names)?;
    Ok(names)
}

/// Deletes the named namespaces (their veths go with them).
pub(crate) fn delete(names: &[String]) -> Result<(), LabError> {
    if names.is_empty() {
        return Ok(());
    }
    let script: String = names.iter().map(|n| format!("netns del {n}\n")).collect();
    run(ip(None, ["-force", "-batch", "-"]), Some(&script))
}

/// Takes the cross-process lab lock; held until the returned file drops.
pub(crate) fn global_lock() -> Result<File, LabError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_FILE)
        .map_err(|e| LabError::io(format!("open {LOCK_FILE}"), e))?;
    sys::lock_exclusive(&file).map_err(|e| LabError::io(format!("lock {LOCK_FILE}"), e))?;
    Ok(file)
}

/// An `ip` command, optionally run against namespace `ns` (`ip -n NS ...`).
pub(crate) fn ip<'a>(ns: Option<&str>, args: impl IntoIterator<Item = &'a str>) -> Command {
    let mut cmd = Command::new("ip");
    if let Some(ns) = ns {
        cmd.args(["-n", ns]);
    }
    cmd.args(args);
    cmd
}

/// `program` run inside namespace `ns` via `ip netns exec`.
pub(crate) fn exec_in(ns: &str, program: &str) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, program]);
    cmd
}

/// The command line of `cmd`, for error messages.
pub(crate) fn describe(cmd: &Command, stdin: Option<&str>) -> String {
    let mut line = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    if let Some(script) = stdin {
        line.push_str(" <<EOF\n");
        line.push_str(script);
        line.push_str("EOF");
    }
    line
}

/// A started command whose stdin has been written.
struct Pending {
    child: Child,
    command: String,
}

fn spawn(mut cmd: Command, stdin: Option<&str>) -> Result<Pending, LabError> {
    let command = describe(&cmd, stdin);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|source| LabError::Spawn { command: command.clone(), source })?;
    if let (Some(script), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // Scripts are small (well under a pipe buffer); dropping `pipe` sends EOF.
        pipe.write_all(script.as_bytes())
            .map_err(|source| LabError::Spawn { command: command.clone(), source })?;
    }
    Ok(Pending { child, command })
}

fn finish(pending: Pending) -> Result<(), LabError> {
    let Pending { child, command } = pending;
    let out =
        child.wait_with_output().map_err(|source| LabError::Spawn { command: command.clone(), source })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    if stderr.contains("Operation not permitted") || stderr.contains("Permission denied") {
        return Err(LabError::NotRoot(format!("`{command}`: {stderr}")));
    }
    Err(LabError::Command { command, status: out.status.to_string(), stderr })
}

/// Runs `cmd` to completion, feeding it `stdin`.
///
/// # Errors
/// The command could not start or exited unsuccessfully.
pub(crate) fn run(cmd: Command, stdin: Option<&str>) -> Result<(), LabError> {
    finish(spawn(cmd, stdin)?)
}

/// Runs all commands concurrently and waits for every one; returns the
/// first failure.
pub(crate) fn run_all(cmds: Vec<(Command, Option<String>)>) -> Result<(), LabError> {
    let mut pending = Vec::with_capacity(cmds.len());
    let mut first_err = None;
    for (cmd, stdin) in cmds {
        match spawn(cmd, stdin.as_deref()) {
            Ok(p) => pending.push(p),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    for p in pending {
        if let Err(e) = finish(p) {
            first_err.get_or_insert(e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// Runs `f` on a new thread that has entered namespace `ns`, and returns
/// its result. A panic in `f` is resumed on the caller's thread.
///
/// # Errors
/// The thread could not be started or could not enter the namespace; `f`
/// has then not run.
pub(crate) fn in_netns<F, R>(ns: &str, f: F) -> Result<R, LabError>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let path = ns_path(ns);
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name(format!("netns {ns}"))
            .spawn_scoped(scope, || {
                sys::setns_net(&path)
                    .map_err(|e| LabError::io(format!("setns into {}", path.display()), e))?;
                Ok(f())
            })
            .map_err(|e| LabError::io(format!("spawn a thread for {ns}"), e))?;
        match handle.join() {
            Ok(result) => result,
            Err(payload) => std::panic::resume_unwind(payload),
        }
    })
}

/// Writes sysctl `key` (dotted, e.g. `net.ipv4.ip_default_ttl`) in the
/// calling thread's network namespace.
pub(crate) fn write_sysctl(ns: &str, key: &str, value: &str) -> Result<(), LabError> {
    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
    std::fs::write(&path, value).map_err(|e| LabError::io(format!("sysctl -w {key}={value} in {ns}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let id = LabId { pid: 4242, counter: 7 };
        assert_eq!(id.prefix(), "scry4242x7");
        for role in
            [Role::Hub, Role::Scanner, Role::Target(0), Role::Target(12), Role::Router, Role::Routed(3)]
        {
            assert_eq!(parse_ns_name(&id.ns_name(role)), Some((id, role)));
        }
        assert_eq!(id.ns_name(Role::Target(3)), "scry4242x7t3");
    }

    #[test]
    fn fresh_ids_are_unique_and_carry_our_pid() {
        let (a, b) = (LabId::next(), LabId::next());
        assert_ne!(a, b);
        assert_eq!(a.pid, std::process::id());
    }

    #[test]
    fn foreign_names_are_not_ours() {
        for name in [
            "",
            "scry",
            "scryx1hub",
            "scry12hub",
            "scry12x",
            "scry12xhub",
            "scry12x3",
            "scry12x3t",
            "scry12x3tx",
            "scry12x3t1a",
            "scry12x3hubx",
            "scry12x3r",
            "scry12x3rt1",
            "scry12x3r1t",
            "scry+1x2hub",
            "myns",
            "scry12x3scanner",
            "scry99999999999x1hub",
        ] {
            assert_eq!(parse_ns_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn describe_shows_the_script() {
        let cmd = ip(Some("ns1"), ["-batch", "-"]);
        assert_eq!(describe(&cmd, Some("link set lo up\n")), "ip -n ns1 -batch - <<EOF\nlink set lo up\nEOF");
    }
}
