//! Giving up privileges once every capture and socket is open, before the
//! first reply is parsed: scry parses packets anyone on the network can
//! send, and must not do so with root's powers (as p0f's `-u`).
//!
//! - **As root**, scry splits in two ([`split`]). The child, which scans,
//!   changes to an unprivileged user (`nobody` unless `--user`), leaves no
//!   supplementary group, empties every capability set (bounding and
//!   ambient too) and sets `PR_SET_NO_NEW_PRIVS`. The parent stays root
//!   only to do what the child no longer can: write the resume file where
//!   the user asked for it, and remove it when the scan completes. It acts
//!   on the child's [`Note`]s, over a pipe, for that one fixed path, and
//!   exits with the child's status, forwarding Ctrl-C and SIGTERM to it. It
//!   keeps only `CAP_DAC_OVERRIDE` (for the file) and `CAP_KILL` (for the
//!   signals) and reads nothing from the network.
//! - **Without root but with capabilities** (file capabilities on the
//!   binary), the process empties its capability sets in place
//!   ([`clear_capabilities`]); its files are the user's own already.
//!
//! Output files are opened before either, so their permissions are root's.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::{FromRawFd, OwnedFd};

/// Capability numbers, from `<linux/capability.h>`.
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_KILL: u32 = 5;

/// `_LINUX_CAPABILITY_VERSION_3`: two 32-bit words per set.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// The unprivileged user to scan as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: libc::uid_t,
    pub gid: libc::gid_t,
}

impl User {
    /// Looks `name` up in the password database.
    ///
    /// # Errors
    /// No such user.
    pub fn lookup(name: &str) -> anyhow::Result<User> {
        let missing = || anyhow::anyhow!("no user named {name:?} to scan as; choose one with --user NAME");
        let c_name = CString::new(name).map_err(|_| missing())?;
        // SAFETY: passwd is plain data; getpwnam_r fills it and points its
        // strings into `buf`, which outlives every use below.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut buf = vec![0 as libc::c_char; 16 << 10];
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc =
            unsafe { libc::getpwnam_r(c_name.as_ptr(), &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
        if rc != 0 || found.is_null() {
            return Err(missing());
        }
        if pwd.pw_uid == 0 {
            anyhow::bail!(
                "--user {name} is root (uid 0); scry gives up root's powers to an unprivileged user"
            );
        }
        Ok(User { name: name.to_owned(), uid: pwd.pw_uid, gid: pwd.pw_gid })
    }
}

fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc < 0 {
        let err = io::Error::last_os_error();
        return Err(io::Error::new(err.kind(), format!("{what}: {err}")));
    }
    Ok(())
}

/// The highest capability number this kernel knows.
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(63)
}

/// Empties the calling thread's effective, permitted and inheritable
/// capability sets and its ambient set, and sets no_new_privs, so that not
/// even an exec can give any back. Call while no other thread runs.
///
/// # Errors
/// The kernel refused.
pub fn clear_capabilities() -> io::Result<()> {
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    let data = [CapData::default(); 2];
    // SAFETY: capset reads one header and two data structs of the v3 layout.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } as libc::c_int, "capset")?;
    // SAFETY: prctl with integer arguments only.
    let ambient = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    // Kernels before 4.3 have no ambient set: nothing to clear there.
    if ambient < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
        check(ambient, "clearing the ambient capabilities")?;
    }
    // SAFETY: as above.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }, "PR_SET_NO_NEW_PRIVS")
}

/// Keeps only the capabilities in `caps` (in every set, the bounding set
/// too); the process stays root by user id.
///
/// # Errors
/// The kernel refused.
fn keep_only(caps: &[u32]) -> io::Result<()> {
    let mask = caps.iter().fold(0u64, |m, c| m | 1 << c);
    for cap in (0..=last_capability()).filter(|c| mask & 1 << c == 0) {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            check(rc, "dropping the capability bounding set")?;
        }
    }
    let word = |shift: u32| (mask >> shift) as u32;
    let set = |w| CapData { effective: w, permitted: w, inheritable: 0 };
    let data = [set(word(0)), set(word(32))];
    let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
    // SAFETY: capset reads one header and two data structs of the v3 layout.
    check(unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } as libc::c_int, "capset")
}

/// Becomes `user` for good: no capability left in any set, no way back.
/// Call as root, while no other thread runs.
///
/// # Errors
/// The kernel refused a step; the process may then be half-changed and must not go on.
pub fn become_user(user: &User) -> io::Result<()> {
    // The bounding set needs CAP_SETPCAP, so it goes first.
    for cap in 0..=last_capability() {
        // SAFETY: prctl with integer arguments only.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            check(rc, "dropping the capability bounding set")?;
        }
    }
    // SAFETY: plain system calls with integer arguments (no group list).
    check(unsafe { libc::setgroups(0, std::ptr::null()) }, "setgroups")?;
    check(unsafe { libc::setresgid(user.gid, user.gid, user.gid) }, "setresgid")?;
    check(unsafe { libc::setresuid(user.uid, user.uid, user.uid) }, "setresuid")?;
    // Changing every uid away from 0 already emptied the permitted and
    // effective sets; say so to the kernel anyway, and lock the rest.
    clear_capabilities()
}

/// What `/proc/self/status` says of the process's powers now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub uid: u32,
    pub gid: u32,
    pub cap_eff: u64,
    pub cap_prm: u64,
    pub no_new_privs: bool,
}

impl Status {
    /// Reads the calling process's status.
    ///
    /// # Errors
    /// /proc is missing or unreadable.
    pub fn current() -> io::Result<Status> {
        Status::parse(&std::fs::read_to_string("/proc/self/status")?)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc/self/status"))
    }

    fn parse(text: &str) -> Option<Status> {
        let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)).map(str::trim);
        // "Uid:\treal\teffective\tsaved\tfs": the effective one counts.
        let id = |name| field(name)?.split_whitespace().nth(1)?.parse().ok();
        let caps = |name| u64::from_str_radix(field(name)?, 16).ok();
        Some(Status {
            uid: id("Uid:")?,
            gid: id("Gid:")?,
            cap_eff: caps("CapEff:")?,
            cap_prm: caps("CapPrm:")?,
            no_new_privs: field("NoNewPrivs:")? == "1",
        })
    }

    /// `uid 65534, gid 65534, CapEff 0000000000000000, CapPrm 0000000000000000, NoNewPrivs 1`
    pub fn describe(&self) -> String {
        format!(
            "uid {}, gid {}, CapEff {:016x}, CapPrm {:016x}, NoNewPrivs {}",
            self.uid,
            self.gid,
            self.cap_eff,
            self.cap_prm,
            u8::from(self.no_new_privs)
        )
    }
}

/// What the scanning child tells the parent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// Save the resume file: phase, first position not yet probed.
    Checkpoint(u32, u64),
    /// The next text the scan printed in an output format, for the history
    /// ([`crate::history`]), which the parent keeps.
    Output { format: String, text: String },
    /// An open port whose version detection the stop cut short, for the resume file.
    Version(std::net::IpAddr, scry_probe::services::Protocol, u16),
    /// The scan ended; `interrupted` by Ctrl-C or SIGTERM, or complete.
    Done { interrupted: bool },
}

/// The most text one [`Note::Output`] may carry: the parent reads no more
/// than this on the child's word.
const MAX_OUTPUT_NOTE: usize = 16 << 20;

impl Note {
    /// One line, except an output note: its header line
    /// (`output FORMAT LEN`) and then LEN bytes of text as they are.
    fn to_bytes(&self) -> Vec<u8> {
        match self {
            Note::Checkpoint(phase, position) => format!("checkpoint {phase} {position}\n").into_bytes(),
            Note::Output { format, text } => {
                let mut bytes = format!("output {format} {}\n", text.len()).into_bytes();
                bytes.extend_from_slice(text.as_bytes());
                bytes
            }
            Note::Version(ip, protocol, port) => format!("version {ip} {protocol} {port}\n").into_bytes(),
            Note::Done { interrupted } => {
                format!("done {}\n", if *interrupted { "interrupted" } else { "complete" }).into_bytes()
            }
        }
    }

    /// The next note from `from`: `None` at the end, `Some(None)` for one
    /// that does not parse (skipped).
    fn read(from: &mut impl BufRead) -> Option<Option<Note>> {
        let mut line = String::new();
        match from.read_line(&mut line) {
            Ok(n) if n > 0 => {}
            _ => return None,
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        Some(match words.as_slice() {
            ["checkpoint", phase, position] => {
                phase.parse().ok().zip(position.parse().ok()).map(|(p, n)| Note::Checkpoint(p, n))
            }
            ["output", format, len] => {
                // A bad length: what follows is skipped line by line as unknown notes.
                let Some(len) = len.parse::<usize>().ok().filter(|n| *n <= MAX_OUTPUT_NOTE) else {
                    return Some(None);
                };
                let mut text = vec![0; len];
                // Cut short: the pipe closed, the child is gone.
                from.read_exact(&mut text).ok()?;
                let format = format.chars().all(|c| c.is_ascii_lowercase()).then(|| (*format).to_owned());
                format
                    .map(|format| Note::Output { format, text: String::from_utf8_lossy(&text).into_owned() })
            }
            ["version", ip, protocol, port] => (|| {
                let protocol = match *protocol {
                    "tcp" => scry_probe::services::Protocol::Tcp,
                    "udp" => scry_probe::services::Protocol::Udp,
                    _ => return None,
                };
                Some(Note::Version(ip.parse().ok()?, protocol, port.parse().ok()?))
            })(),
            ["done", "interrupted"] => Some(Note::Done { interrupted: true }),
            ["done", "complete"] => Some(Note::Done { interrupted: false }),
            _ => None,
        })
    }
}

/// The child's end of the pipe to the parent.
pub struct Link(File);

impl Link {
    /// A second handle on the same pipe, for another writer on the same
    /// thread (notes from two threads could interleave).
    ///
    /// # Errors
    /// The descriptor could not be duplicated.
    pub fn try_clone(&self) -> io::Result<Link> {
        self.0.try_clone().map(Link)
    }

    /// Tells the parent `note`; a parent that is gone is not an error here
    /// (the child dies with it, see [`split`]).
    pub fn tell(&mut self, note: Note) {
        // The child writes notes from one thread only: they never interleave.
        let _ = self.0.write_all(&note.to_bytes());
    }
}

/// The parent's side: the child to wait for and the pipe it writes to.
pub struct Keeper {
    child: libc::pid_t,
    notes: BufReader<File>,
}

impl Keeper {
    /// Acts on the child's notes until it closes the pipe, then waits for
    /// it; returns its exit status (128 + the signal if one killed it) and
    /// how the scan ended, if it said.
    pub fn wait(mut self, mut on_note: impl FnMut(Note)) -> (u8, Option<bool>) {
        let child = self.child;
        let mut interrupted = None;
        while let Some(note) = Note::read(&mut self.notes) {
            match note {
                Some(note @ (Note::Checkpoint(..) | Note::Version(..) | Note::Output { .. })) => {
                    on_note(note)
                }
                Some(Note::Done { interrupted: i }) => interrupted = Some(i),
                None => {}
            }
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child; `status` is a valid out pointer.
        while unsafe { libc::waitpid(child, &mut status, 0) } < 0 {
            if io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                return (1, interrupted);
            }
        }
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status) as u8
        } else {
            128u8.wrapping_add(libc::WTERMSIG(status) as u8)
        };
        (code, interrupted)
    }
}

/// Which side of [`split`] the caller is on.
pub enum Side {
    /// The child: now `user`, without privileges, scanning.
    Scanner(Link),
    /// The parent: still root, keeping the resume file.
    Keeper(Keeper),
}

/// Forks; the child becomes `user` (see [`become_user`]) and dies with
/// its parent. Call as root while no other thread runs: a thread would
/// not follow into the child.
///
/// # Errors
/// The pipe or the fork failed (in the parent), or the child could not
/// become `user` (in the child, which must then exit).
pub fn split(user: &User) -> anyhow::Result<Side> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors, which we own from here on.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: getpid and fork have no preconditions; the process is single-threaded here.
    let parent = unsafe { libc::getpid() };
    let pid = unsafe { libc::fork() };
    check(pid, "fork")?;
    if pid > 0 {
        drop(write);
        // First: a Ctrl-C from now on stops the scan the way the child
        // handles it, and the parent lives to record the end. Ctrl-C on a
        // terminal reaches both; SIGTERM to the parent's pid reaches only it.
        // SAFETY: kill(2) on our own child's pid.
        let _ = ctrlc::set_handler(move || unsafe {
            libc::kill(pid, libc::SIGINT);
        });
        // The parent writes files where root may (CAP_DAC_OVERRIDE) and
        // signals its child, now another user (CAP_KILL); nothing more.
        if let Err(e) = keep_only(&[CAP_DAC_OVERRIDE, CAP_KILL]) {
            eprintln!("scry: warning: the parent process keeps its capabilities: {e}");
        }
        return Ok(Side::Keeper(Keeper { child: pid, notes: BufReader::new(File::from(read)) }));
    }
    drop(read);
    become_user(user)?;
    // After the uid change (which clears it): a parent killed outright
    // takes the scan with it. If it died before this line, stop now.
    // SAFETY: prctl with integer arguments; getppid has no preconditions.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) }, "PR_SET_PDEATHSIG")?;
    if unsafe { libc::getppid() } != parent {
        anyhow::bail!("the parent process is gone");
    }
    Ok(Side::Scanner(Link(File::from(write))))
}

/// Whether the process runs with root's user id.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The threads of this process, from /proc: [`split`] needs exactly one.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, Iterator::count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let text = "Name:\tscry\nUid:\t0\t65534\t65534\t65534\nGid:\t0\t65533\t65533\t65533\n\
                    NoNewPrivs:\t1\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\n\
                    CapEff:\t0000000000002000\n";
        let status = Status::parse(text).unwrap();
        assert_eq!(
            status,
            Status { uid: 65534, gid: 65533, cap_eff: 0x2000, cap_prm: 0, no_new_privs: true }
        );
        assert_eq!(
            status.describe(),
            "uid 65534, gid 65533, CapEff 0000000000002000, CapPrm 0000000000000000, NoNewPrivs 1"
        );
        assert_eq!(Status::parse("Name:\tscry\n"), None);
    }

    #[test]
    fn notes_round_trip() {
        let output =
            Note::Output { format: "normal".into(), text: "PORT   STATE\n22/tcp open \"x\"\t\\\n".into() };
        let notes = [
            Note::Checkpoint(2, 40_960),
            output,
            Note::Version("198.18.0.10".parse().unwrap(), scry_probe::services::Protocol::Tcp, 443),
            Note::Version("2001:2::a".parse().unwrap(), scry_probe::services::Protocol::Udp, 161),
            Note::Done { interrupted: true },
            Note::Done { interrupted: false },
        ];
        let bytes: Vec<u8> = notes.iter().flat_map(Note::to_bytes).collect();
        let mut from = io::Cursor::new(bytes);
        for note in notes {
            assert_eq!(Note::read(&mut from), Some(Some(note)));
        }
        assert_eq!(Note::read(&mut from), None);
        for bad in ["checkpoint 1\n", "done maybe\n", "output NORMAL 1\nx", "output normal 99999999999\n"] {
            assert_eq!(Note::read(&mut io::Cursor::new(bad)), Some(None), "{bad}");
        }
        // Cut short: the child closed the pipe in the middle of a note.
        assert_eq!(Note::read(&mut io::Cursor::new("output json 10\nabc")), None);
    }

    #[test]
    fn root_is_no_user_to_become() {
        let err = User::lookup("root").unwrap_err().to_string();
        assert!(err.contains("is root (uid 0)"), "{err}");
        let err = User::lookup("no-such-user-scry").unwrap_err().to_string();
        assert_eq!(err, "no user named \"no-such-user-scry\" to scan as; choose one with --user NAME");
    }
}
