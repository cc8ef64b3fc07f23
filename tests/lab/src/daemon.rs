//! Real services from Debian's packages, run in a lab namespace for the
//! version-detection tests: no mocks where a real daemon exists.
//!
//! Each daemon runs in the foreground inside one node's namespace, so it
//! binds that node's addresses only however it is configured (the wildcard
//! of a namespace is the namespace's own addresses), with its configuration,
//! keys and state in a scratch directory of its own: tests in parallel
//! never share one. [`Daemon::start`] returns once the service accepts
//! connections on its ports; dropping the [`Daemon`] kills it and removes
//! the directory. The packages come from `scripts/install-deps.sh`.

use std::fs;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::LabError;
use crate::node::Node;

/// How long a daemon may take to accept connections (PostgreSQL's initdb is the slowest).
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A service the lab can run, each on its usual port(s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// OpenSSH on 22.
    Ssh,
    /// nginx: plain HTTP on 80, HTTPS with a self-signed certificate on 443.
    Nginx,
    /// vsftpd on 21.
    Ftp,
    /// Postfix's SMTP server on 25.
    Smtp,
    /// Dovecot: IMAP on 143, POP3 on 110.
    Dovecot,
    /// Redis on 6379.
    Redis,
    /// memcached on 11211, TCP and UDP.
    Memcached,
    /// PostgreSQL on 5432.
    Postgres,
    /// telnetd from inetd on 23.
    Telnet,
}

impl Service {
    /// Every service, in port order of their first port.
    pub const ALL: [Service; 9] = [
        Service::Ftp,
        Service::Ssh,
        Service::Telnet,
        Service::Smtp,
        Service::Nginx,
        Service::Dovecot,
        Service::Postgres,
        Service::Redis,
        Service::Memcached,
    ];

    /// The TCP ports it listens on.
    pub fn tcp_ports(self) -> &'static [u16] {
        match self {
            Service::Ssh => &[22],
            Service::Nginx => &[80, 443],
            Service::Ftp => &[21],
            Service::Smtp => &[25],
            Service::Dovecot => &[110, 143],
            Service::Redis => &[6379],
            Service::Memcached => &[11211],
            Service::Postgres => &[5432],
            Service::Telnet => &[23],
        }
    }

    /// The program that must be installed.
    pub fn program(self) -> &'static str {
        match self {
            Service::Ssh => "/usr/sbin/sshd",
            Service::Nginx => "/usr/sbin/nginx",
            Service::Ftp => "/usr/sbin/vsftpd",
            Service::Smtp => "/usr/sbin/postfix",
            Service::Dovecot => "/usr/sbin/dovecot",
            Service::Redis => "/usr/bin/redis-server",
            Service::Memcached => "/usr/bin/memcached",
            Service::Postgres => "/usr/lib/postgresql",
            Service::Telnet => "/usr/sbin/inetutils-inetd",
        }
    }
}

/// A running service; dropping it stops the daemon and removes its files.
#[derive(Debug)]
pub struct Daemon {
    service: Service,
    child: Child,
    dir: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.service == Service::Smtp {
            // `postfix start-fg` leaves master's children behind on SIGKILL.
            let _ = Command::new("/usr/sbin/postfix").arg("-c").arg(&self.dir).arg("stop").output();
        }
        // The whole process group: nginx's workers and the server runuser
        // starts outlive a killed parent.
        // SAFETY: kill(2) on the group the daemon leads (it was started with process_group(0)).
        unsafe { libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL) };
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LabError {
    let what = what.into();
    move |e| LabError::io(what, e)
}

/// Runs a setup command to completion.
fn run(command: &mut Command) -> Result<(), LabError> {
    let shown = format!("{command:?}");
    let out = command.output().map_err(|source| LabError::Spawn { command: shown.clone(), source })?;
    if !out.status.success() {
        return Err(LabError::Command {
            command: shown,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), LabError> {
    fs::write(path, text).map_err(io(format!("writing {}", path.display())))
}

/// A scratch directory, readable by the daemons' own users.
fn scratch(node: &Node, service: Service) -> Result<PathBuf, LabError> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("{}-{n}-{service:?}", node.ns()).to_lowercase());
    fs::create_dir_all(&dir).map_err(io(format!("creating {}", dir.display())))?;
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(io("chmod scratch"))?;
    Ok(dir)
}

/// A self-signed certificate and key for `lab.test` in `dir`.
fn certificate(dir: &Path) -> Result<(PathBuf, PathBuf), LabError> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "30",
            "-subj",
            "/CN=lab.test/O=scry lab",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert))?;
    Ok((cert, key))
}

impl Daemon {
    /// Starts `service` in `node` and waits until it accepts connections.
    ///
    /// # Errors
    /// The program is not installed ([`LabError::Spawn`] naming it), its
    /// setup failed, or it did not listen within 30 s (its log is in the error).
    pub fn start(node: &Node, service: Service) -> Result<Daemon, LabError> {
        if !Path::new(service.program()).exists() {
            return Err(LabError::Spawn {
                command: service.program().to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "not installed (scripts/install-deps.sh installs it)",
                ),
            });
        }
        let dir = scratch(node, service)?;
        let (program, args) = match setup(service, &dir) {
            Ok(how) => how,
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let log = fs::File::create(dir.join("daemon.log")).map_err(io("creating the daemon log"))?;
        let err_log = log.try_clone().map_err(io("cloning the daemon log"))?;
        let child = node
            .command(&program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log)
            .process_group(0)
            .spawn()
            .map_err(|source| LabError::Spawn { command: program.clone(), source })?;
        let mut daemon = Daemon { service, child, dir };
        daemon.wait_ready(node)?;
        Ok(daemon)
    }

    /// [`Daemon::start`] for tests: `None` (with a message) when the
    /// program is not installed, which fails under `CI=true`.
    ///
    /// # Panics
    /// Any other error, or a missing program under `CI=true`.
    pub fn start_or_skip(node: &Node, service: Service) -> Option<Daemon> {
        match Daemon::start(node, service) {
            Ok(d) => Some(d),
            Err(LabError::Spawn { command, source }) if source.kind() == std::io::ErrorKind::NotFound => {
                assert!(std::env::var("CI").map_or(true, |v| v != "true"), "CI=true but {command}: {source}");
                eprintln!("skipped {service:?}: {command}: {source}");
                None
            }
            Err(e) => panic!("{service:?}: {e}"),
        }
    }

    /// The service it runs.
    pub fn service(&self) -> Service {
        self.service
    }

    /// Waits until every port accepts a connection from inside the node.
    fn wait_ready(&mut self, node: &Node) -> Result<(), LabError> {
        let ip = IpAddr::V4(node.ipv4());
        let ports = self.service.tcp_ports();
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let up = node.run(move || {
                ports.iter().all(|&p| {
                    TcpStream::connect_timeout(&SocketAddr::new(ip, p), Duration::from_millis(200)).is_ok()
                })
            })?;
            if up {
                return Ok(());
            }
            let exited = self.child.try_wait().map_err(io("waiting for the daemon"))?;
            if exited.is_some() || Instant::now() >= deadline {
                let log = fs::read_to_string(self.dir.join("daemon.log")).unwrap_or_default();
                let why = match exited {
                    Some(status) => format!("exited ({status})"),
                    None => format!("not listening on {ports:?} after {READY_TIMEOUT:?}"),
                };
                return Err(LabError::NotReady(format!("{:?} {why}: {}", self.service, log.trim())));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Writes `service`'s configuration into `dir`; the program and arguments
/// that run it in the foreground.
fn setup(service: Service, dir: &Path) -> Result<(String, Vec<String>), LabError> {
    let d = dir.display().to_string();
    let owned = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    Ok(match service {
        Service::Ssh => {
            let key = dir.join("host_ed25519");
            run(Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", ""]).arg("-f").arg(&key))?;
            // sshd's privilege separation directory.
            fs::create_dir_all("/run/sshd").map_err(io("creating /run/sshd"))?;
            let k = key.display().to_string();
            let pid = format!("PidFile={d}/sshd.pid");
            ("/usr/sbin/sshd".into(), owned(&["-D", "-e", "-f", "/dev/null", "-h", &k, "-o", &pid]))
        }
        Service::Nginx => {
            let (cert, key) = certificate(dir)?;
            fs::create_dir_all(dir.join("www")).map_err(io("creating the web root"))?;
            write(
                &dir.join("www/index.html"),
                "<html><head><title>scry lab</title></head><body>lab</body></html>\n",
            )?;
            let conf = format!(
                "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
                 events {{ worker_connections 1024; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
                 fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
                 server {{ listen 80; root {d}/www; }}\n  \
                 server {{ listen 443 ssl; ssl_certificate {}; ssl_certificate_key {}; root {d}/www; }}\n}}\n",
                cert.display(),
                key.display()
            );
            write(&dir.join("nginx.conf"), &conf)?;
            ("/usr/sbin/nginx".into(), owned(&["-p", &d, "-c", &format!("{d}/nginx.conf")]))
        }
        Service::Ftp => {
            let empty = "/var/run/vsftpd/empty";
            fs::create_dir_all(empty).map_err(io("creating vsftpd's chroot"))?;
            let conf = format!(
                "listen=YES\nlisten_ipv6=NO\nbackground=NO\nanonymous_enable=NO\nlocal_enable=YES\n\
                 secure_chroot_dir={empty}\npam_service_name=vsftpd\nseccomp_sandbox=NO\n\
                 xferlog_enable=NO\nvsftpd_log_file={d}/vsftpd.log\n"
            );
            write(&dir.join("vsftpd.conf"), &conf)?;
            ("/usr/sbin/vsftpd".into(), vec![format!("{d}/vsftpd.conf")])
        }
        Service::Smtp => postfix(dir)?,
        Service::Dovecot => {
            let conf = format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nprotocols = imap pop3\nlisten = *\nssl = no\n\
                 log_path = {d}/dovecot.log\ndefault_internal_user = dovecot\ndefault_login_user = dovenull\n\
                 passdb {{\n  driver = static\n  args = nopassword=y\n}}\n\
                 userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home\n}}\n"
            );
            write(&dir.join("dovecot.conf"), &conf)?;
            ("/usr/sbin/dovecot".into(), owned(&["-F", "-c", &format!("{d}/dovecot.conf")]))
        }
        Service::Redis => (
            "/usr/bin/redis-server".into(),
            owned(&[
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                &d,
                "--protected-mode",
                "no",
            ]),
        ),
        Service::Memcached => {
            ("/usr/bin/memcached".into(), owned(&["-u", "nobody", "-p", "11211", "-U", "11211"]))
        }
        Service::Postgres => postgres(dir)?,
        Service::Telnet => {
            write(&dir.join("inetd.conf"), "telnet stream tcp nowait root /usr/sbin/telnetd telnetd\n")?;
            ("/usr/sbin/inetutils-inetd".into(), owned(&["-d", &format!("{d}/inetd.conf")]))
        }
    })
}

/// The newest PostgreSQL server installed, e.g. `/usr/lib/postgresql/15/bin`.
fn postgres_bin() -> Result<PathBuf, LabError> {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = fs::read_dir(root)
        .map_err(io("listing /usr/lib/postgresql"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().ok_or_else(|| LabError::InvalidSpec("no PostgreSQL server in /usr/lib/postgresql".into()))
}

/// A fresh cluster owned by the `postgres` user, listening on 5432.
fn postgres(dir: &Path) -> Result<(String, Vec<String>), LabError> {
    let bin = postgres_bin()?;
    let data = dir.join("data");
    run(Command::new("chown").arg("postgres:postgres").arg(dir))?;
    run(Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin.join("initdb"))
        .args(["-A", "trust", "-U", "postgres", "-D"])
        .arg(&data))?;
    let socket = format!("unix_socket_directories={}", dir.display());
    let args = vec![
        "-u".to_owned(),
        "postgres".to_owned(),
        "--".to_owned(),
        bin.join("postgres").display().to_string(),
        "-D".to_owned(),
        data.display().to_string(),
        "-c".to_owned(),
        "listen_addresses=*".to_owned(),
        "-c".to_owned(),
        socket,
    ];
    Ok(("runuser".into(), args))
}

/// A Postfix instance of its own: a config directory that only overrides
/// paths and names, the stock master.cf, queue directories made by
/// `postfix post-install`.
fn postfix(dir: &Path) -> Result<(String, Vec<String>), LabError> {
    let d = dir.display();
    let main = format!(
        "compatibility_level = 3.6\nqueue_directory = {d}/queue\ndata_directory = {d}/data\n\
         myhostname = mail.lab.test\nmydestination = lab.test\ninet_interfaces = all\ninet_protocols = ipv4\n\
         maillog_file = /dev/stdout\nmaillog_file_prefixes = /dev/stdout\nmail_owner = postfix\n\
         setgid_group = postdrop\n\
         smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)\nalias_maps =\nalias_database =\n"
    );
    write(&dir.join("main.cf"), &main)?;
    fs::copy("/etc/postfix/master.cf", dir.join("master.cf")).map_err(io("copying master.cf"))?;
    for sub in ["queue", "data"] {
        fs::create_dir_all(dir.join(sub)).map_err(io(format!("creating {d}/{sub}")))?;
    }
    run(Command::new("chown").arg("postfix").arg(dir.join("data")))?;
    run(Command::new("/usr/sbin/postfix").arg("-c").arg(dir).args(["post-install", "create-missing"]))?;
    Ok(("/usr/sbin/postfix".into(), vec!["-c".into(), dir.display().to_string(), "start-fg".into()]))
}
