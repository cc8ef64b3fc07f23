//! A temporary PostgreSQL cluster for the tests: Debian's server binaries
//! (`/usr/lib/postgresql/*/bin`, from the `postgresql` package that
//! scripts/install-deps.sh installs), a new cluster in a directory under
//! /tmp, trust authentication, listening on 127.0.0.1 at a free port and
//! on a socket in that directory; a database per test; stopped and removed
//! when the last test holding it drops it.
//!
//! The server refuses to run as root, so as root every server command runs
//! as the `postgres` user (setpriv), and the directory is made theirs.
//! Without the binaries, [`cluster`] panics when `CI` is set (CI must not
//! pass by skipping) and otherwise prints a notice and returns `None`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// The cluster the running tests share.
static SHARED: Mutex<Weak<PgCluster>> = Mutex::new(Weak::new());

/// A running temporary cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
    databases: AtomicU32,
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The newest server's bin directory.
fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").exists() && bin.join("pg_ctl").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// The cluster shared by the tests running now, started if none is.
pub fn cluster() -> Option<Arc<PgCluster>> {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(running) = shared.upgrade() {
        return Some(running);
    }
    let Some(bin) = find_bin() else {
        let message =
            "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/initdb and pg_ctl); \
                       scripts/install-deps.sh installs Debian's postgresql package";
        if in_ci() {
            panic!("{message}: CI must run the PostgreSQL tests");
        }
        eprintln!("skipping the PostgreSQL half of this test: {message}");
        return None;
    };
    let started = Arc::new(PgCluster::start(bin));
    *shared = Arc::downgrade(&started);
    Some(started)
}

fn id_of(flag: &str) -> u32 {
    let out = Command::new("id").args([flag, "postgres"]).output().expect("running id");
    assert!(out.status.success(), "no postgres user: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a numeric id")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgCluster {
    fn start(bin: PathBuf) -> PgCluster {
        // Under /tmp: the postgres user must reach it (not under /root).
        let dir = tempfile::Builder::new().prefix("scry-pg-").tempdir_in("/tmp").unwrap();
        let as_postgres = unsafe { libc::geteuid() } == 0;
        if as_postgres {
            std::os::unix::fs::chown(dir.path(), Some(id_of("-u")), Some(id_of("-g"))).unwrap();
        }
        let mut cluster = PgCluster { dir, bin, as_postgres, port: 0, databases: AtomicU32::new(0) };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"],
        );
        for _attempt in 0..5 {
            cluster.port = free_port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c shared_buffers=16MB",
                cluster.port,
                cluster.dir.path().display()
            );
            let log = cluster.dir.path().join("server.log");
            let out = cluster.command(
                "pg_ctl",
                &["-D", &data, "-l", &log.to_string_lossy(), "-w", "-t", "60", "-o", &options, "start"],
            );
            if out.status.success() {
                return cluster;
            }
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            if !log.contains("could not bind") && !log.contains("Address already in use") {
                panic!(
                    "pg_ctl start failed: {}\n{}\n{log}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        panic!("pg_ctl start: no free port after 5 tries");
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Runs one of the server's programs, as `postgres` when we are root.
    fn command(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("running {program}: {e}"))
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program, args);
        assert!(
            out.status.success(),
            "{program} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The directory holding the server's socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A URL of database `db` over TCP.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; returns its URL.
    pub fn database(&self) -> String {
        let name = format!("scry_{}_{}", std::process::id(), self.databases.fetch_add(1, Ordering::Relaxed));
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(&name)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self.command("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }
}
