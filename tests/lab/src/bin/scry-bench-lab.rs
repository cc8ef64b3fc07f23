//! `scry-bench-lab`: the namespace lab behind `benches/lab/throughput.sh`.
//!
//! `up` builds one lab for every benchmark case and holds it until SIGINT,
//! SIGTERM or the death of its parent (the script):
//!
//! - `t0` is a *gateway* to a void: the scanner routes `198.19.0.0/16` via
//!   it, and it forwards nothing (forwarding off, and an nft `prerouting`
//!   rule dropping that /16), so a scan of the /16 measures pure send rate.
//!   The same for IPv6: the scanner routes `2001:2:0:ff::/64` via it, it
//!   holds a blackhole route for that /64 and nft drops it before routing.
//! - `t1` listens on N TCP ports drawn from 1-65535 by a seeded generator.
//! - `t2` listens on the same ports and drops a percentage of inbound packets.
//!
//! It writes a shell-sourceable file of namespace names, addresses and MACs
//! and the list of open ports, then prints them.
//!
//! `services --hosts N` builds a scanner and N targets, each running every
//! daemon of [`Service::ALL`] (its own instance, in its own namespace), two
//! ports that accept and close (tcpwrapped) and one that accepts and stays
//! silent, for `benches/lab/version.sh`.
//!
//! `os --hosts N` builds a scanner and N targets with distinct TCP/IP
//! stacks ([`Personality::variant`]), each listening on port 22, for
//! `benches/lab/os_scale.sh`.
//!
//! `measure --ns NS -- CMD...` runs `CMD` inside the lab scanner namespace
//! `NS` (via `ip netns exec`) while sampling that namespace's `eth0`
//! counters every millisecond, and reports packets sent (and dropped by the
//! veth), wall time, the rate of the main sending burst, and the command's
//! CPU time and peak resident memory. Every tool is measured the same way, whatever it claims.
//! With `--sink NS2` it also counts what arrived on `NS2`'s `eth0` (the
//! gateway's receive counter: the rate at the sink, not the sender's).

use std::error::Error;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use scry_lab::{
    in_lab_range, parse_ns_name, Daemon, Lab, Node, Personality, Role, Service, TargetSpec, IFACE,
};

/// Printed once the lab is up and the env file is written; the script waits for it.
const READY_LINE: &str = "scry-bench-lab: ready";
/// The empty network routed into the gateway. Inside 198.18.0.0/15, outside the lab's /24.
const VOID_NET: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 0);
const VOID_PREFIX: u8 = 16;
/// The empty IPv6 network routed into the gateway. Inside 2001:2::/48, outside the lab's /64s.
const VOID6_NET: Ipv6Addr = Ipv6Addr::new(0x2001, 0x2, 0, 0xff, 0, 0, 0, 0);
const VOID6_PREFIX: u8 = 64;
/// How often `measure` samples the interface counters.
const SAMPLE_EVERY: Duration = Duration::from_millis(1);

#[derive(Parser)]
#[command(
    name = "scry-bench-lab",
    about = "Namespace lab and packet counter for scry's throughput benchmarks"
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build the benchmark lab, describe it, and hold it until SIGINT/SIGTERM or parent exit.
    Up {
        /// Seed for the open ports of t1/t2.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// How many TCP ports t1 and t2 listen on.
        #[arg(long, default_value_t = 1000)]
        open_ports: usize,
        /// Percentage of inbound packets t2 drops.
        #[arg(long, default_value_t = 10)]
        loss: u8,
        /// Write KEY=VALUE lines (shell-sourceable) describing the lab here.
        #[arg(long)]
        env: PathBuf,
        /// Write the open ports of t1/t2 here, one per line, ascending.
        #[arg(long)]
        ports_file: PathBuf,
    },
    /// Build N targets running every lab daemon, describe them, and hold them like `up`.
    Services {
        /// How many targets.
        #[arg(long, default_value_t = 32)]
        hosts: usize,
        /// Add the port that accepts and stays silent (nmap walks it through every probe).
        #[arg(long)]
        silent: bool,
        /// Write KEY=VALUE lines (shell-sourceable) describing the lab here.
        #[arg(long)]
        env: PathBuf,
    },
    /// Build N targets with distinct TCP/IP stacks listening on port 22, and hold them like `up`.
    Os {
        /// How many targets (the stacks repeat after 64).
        #[arg(long, default_value_t = 64)]
        hosts: usize,
        /// Write KEY=VALUE lines (shell-sourceable) describing the lab here.
        #[arg(long)]
        env: PathBuf,
    },
    /// Run CMD in the scanner namespace NS and report what left its eth0.
    Measure {
        /// A lab scanner namespace (`scry<pid>x<n>scan`); nothing else is accepted.
        #[arg(long)]
        ns: String,
        /// A lab target namespace (`scry<pid>x<n>t<i>`) whose eth0 receive counter is sampled too.
        #[arg(long)]
        sink: Option<String>,
        /// Append the KEY=VALUE report here as well as to stderr.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
}

type Result<T = (), E = Box<dyn Error>> = std::result::Result<T, E>;

fn main() -> ExitCode {
    let result = match Args::parse().command {
        Cmd::Up { seed, open_ports, loss, env, ports_file } => up(seed, open_ports, loss, &env, &ports_file),
        Cmd::Services { hosts, silent, env } => services(hosts, silent, &env),
        Cmd::Os { hosts, env } => os(hosts, &env),
        Cmd::Measure { ns, sink, out, cmd } => measure(&ns, sink.as_deref(), out.as_deref(), &cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("scry-bench-lab: {e}");
            ExitCode::FAILURE
        }
    }
}

fn up(seed: u64, open_ports: usize, loss: u8, env: &Path, ports_file: &Path) -> Result<ExitCode> {
    if !(1..=65535).contains(&open_ports) {
        return Err(format!("--open-ports {open_ports}: must be 1 to 65535").into());
    }
    for void in [std::net::IpAddr::V4(VOID_NET), std::net::IpAddr::V6(VOID6_NET)] {
        assert!(in_lab_range(void), "the void networks must stay inside the lab range");
    }
    let signals = scry_lab::Termination::block()?;
    // The script may die without running its trap (SIGKILL): take the lab down with it.
    die_with_parent()?;

    let ports = random_ports(seed, open_ports);
    let gateway = TargetSpec::new()
        .personality(Personality {
            extra: vec![("net.ipv4.ip_forward".into(), "0".into())],
            ..Personality::default()
        })
        .drop_all();
    let lab = Lab::builder()
        .target(gateway)
        .target(TargetSpec::new().tcp_listen(&ports))
        .target(TargetSpec::new().tcp_listen(&ports).drop_percent(loss))
        .build()?;
    let [gw, open, lossy] = lab.targets() else { unreachable!("three targets were added") };
    route_void(&lab, gw)?;

    let mut text = String::new();
    let mut put = |key: &str, value: &dyn std::fmt::Display| writeln!(text, "{key}={value}");
    put("LAB_PREFIX", &lab.prefix())?;
    put("HUB_NS", &lab.hub_ns())?;
    for (name, node) in [("SCANNER", lab.scanner()), ("GW", gw), ("OPEN", open), ("LOSSY", lossy)] {
        put(&format!("{name}_NS"), &node.ns())?;
        put(&format!("{name}_IP"), &node.ipv4())?;
        put(&format!("{name}_IP6"), &node.ipv6())?;
        put(&format!("{name}_MAC"), &node.mac())?;
    }
    put("VOID_NET", &format_args!("{VOID_NET}/{VOID_PREFIX}"))?;
    put("VOID6_NET", &format_args!("{VOID6_NET}/{VOID6_PREFIX}"))?;
    put("LOSS_PCT", &loss)?;
    put("OPEN_PORTS", &ports.len())?;
    put("OPEN_PORTS_FILE", &ports_file.display())?;
    let port_lines: String = ports.iter().map(|p| format!("{p}\n")).collect();
    write_atomically(ports_file, &port_lines)?;
    write_atomically(env, &text)?;

    let mut out = io::stdout().lock();
    writeln!(out, "node  netns                 ipv4          ipv6        mac                role")?;
    let roles = [
        (lab.scanner(), "scanner".to_owned()),
        (
            gw,
            format!("gateway to {VOID_NET}/{VOID_PREFIX} and {VOID6_NET}/{VOID6_PREFIX}: forwards nothing, drops all"),
        ),
        (open, format!("{} TCP listeners (seed {seed})", ports.len())),
        (lossy, format!("same listeners, drops {loss}% inbound")),
    ];
    for (node, role) in roles {
        let (label, ns, v4, v6, mac) = (node.label(), node.ns(), node.ipv4(), node.ipv6(), node.mac());
        writeln!(out, "{label:<5} {ns:<21} {v4:<13} {v6:<11} {mac}  {role}")?;
    }
    writeln!(out, "hub   {}  (bridge br0)", lab.hub_ns())?;
    writeln!(out, "env: {}  ports: {}", env.display(), ports_file.display())?;
    writeln!(out, "{READY_LINE} (pid {})", std::process::id())?;
    out.flush()?;
    let sig = signals.wait()?;
    writeln!(out, "scry-bench-lab: signal {sig}, tearing down {}", lab.prefix())?;
    drop(lab);
    Ok(ExitCode::SUCCESS)
}

/// Ports of each `services` target that accept and close at once (tcpwrapped).
const WRAPPED_PORTS: [u16; 2] = [8001, 8002];
/// The `services` target port that accepts and never sends a byte.
const SILENT_PORT: u16 = 8003;

fn services(hosts: usize, silent: bool, env: &Path) -> Result<ExitCode> {
    let signals = scry_lab::Termination::block()?;
    die_with_parent()?;
    let spec = || TargetSpec::new().tcp_listen(&WRAPPED_PORTS);
    let lab = (0..hosts).fold(Lab::builder(), |b, _| b.target(spec())).build()?;
    let mut ports: Vec<u16> = Service::ALL.iter().flat_map(|s| s.tcp_ports().iter().copied()).collect();
    ports.extend(WRAPPED_PORTS);
    // Two threads start daemons (initdb and key generation dominate).
    let started = Instant::now();
    let daemons = std::thread::scope(|scope| {
        let workers: Vec<_> = lab
            .targets()
            .chunks(hosts.div_ceil(2).max(1))
            .map(|nodes| {
                scope.spawn(move || -> Result<Vec<Daemon>, String> {
                    let mut out = Vec::new();
                    for node in nodes {
                        for service in Service::ALL {
                            let d =
                                Daemon::start(node, service).map_err(|e| format!("{}: {e}", node.ns()))?;
                            out.push(d);
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("daemon thread")).collect::<Result<Vec<_>, _>>()
    })?;
    let mut held = Vec::new();
    if silent {
        for node in lab.targets() {
            let ip = node.ipv4();
            held.push(node.run(move || std::net::TcpListener::bind((ip, SILENT_PORT)))??);
        }
        ports.push(SILENT_PORT);
        for listener in &held {
            let listener = listener.try_clone()?;
            std::thread::spawn(move || hold_silently(&listener));
        }
    }
    ports.sort_unstable();
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let ips: Vec<String> = lab.targets().iter().map(|t| t.ipv4().to_string()).collect();
    let mut text = String::new();
    let mut put = |key: &str, value: &dyn std::fmt::Display| writeln!(text, "{key}={value}");
    put("LAB_PREFIX", &lab.prefix())?;
    put("SCANNER_NS", &lab.scanner().ns())?;
    put("SCANNER_IP", &lab.scanner().ipv4())?;
    put("TARGET_IPS", &format_args!("\"{}\"", ips.join(" ")))?;
    put("PORTS", &list.join(","))?;
    put("DAEMONS", &daemons.iter().map(Vec::len).sum::<usize>())?;
    write_atomically(env, &text)?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "{hosts} targets {}-{}, ports {}, {} daemons started in {:.1} s",
        ips.first().map_or("", String::as_str),
        ips.last().map_or("", String::as_str),
        list.join(","),
        daemons.iter().map(Vec::len).sum::<usize>(),
        started.elapsed().as_secs_f64()
    )?;
    writeln!(out, "env: {}", env.display())?;
    writeln!(out, "{READY_LINE} (pid {})", std::process::id())?;
    out.flush()?;
    let sig = signals.wait()?;
    writeln!(out, "scry-bench-lab: signal {sig}, tearing down {}", lab.prefix())?;
    drop(daemons);
    drop(lab);
    Ok(ExitCode::SUCCESS)
}

/// The port each `os` target listens on; port 1 is closed on every one.
const OS_OPEN_PORT: u16 = 22;

fn os(hosts: usize, env: &Path) -> Result<ExitCode> {
    let signals = scry_lab::Termination::block()?;
    die_with_parent()?;
    let spec = |i| TargetSpec::new().personality(Personality::variant(i)).tcp_listen(&[OS_OPEN_PORT]);
    let lab = (0..hosts).fold(Lab::builder(), |b, i| b.target(spec(i))).build()?;
    let ips: Vec<String> = lab.targets().iter().map(|t| t.ipv4().to_string()).collect();
    let mut text = String::new();
    let mut put = |key: &str, value: &dyn std::fmt::Display| writeln!(text, "{key}={value}");
    put("LAB_PREFIX", &lab.prefix())?;
    put("SCANNER_NS", &lab.scanner().ns())?;
    put("SCANNER_IP", &lab.scanner().ipv4())?;
    put("TARGET_IPS", &format_args!("\"{}\"", ips.join(" ")))?;
    put("OPEN_PORT", &OS_OPEN_PORT)?;
    write_atomically(env, &text)?;
    let mut out = io::stdout().lock();
    for (i, node) in lab.targets().iter().enumerate() {
        writeln!(out, "{:<5} {:<13} {}", node.label(), node.ipv4(), Personality::variant(i).summary())?;
    }
    writeln!(out, "env: {}", env.display())?;
    writeln!(out, "{READY_LINE} (pid {})", std::process::id())?;
    out.flush()?;
    let sig = signals.wait()?;
    writeln!(out, "scry-bench-lab: signal {sig}, tearing down {}", lab.prefix())?;
    drop(lab);
    Ok(ExitCode::SUCCESS)
}

/// Accepts every connection and holds it open without sending, reading and
/// dropping whatever comes, until the peer closes it.
fn hold_silently(listener: &std::net::TcpListener) {
    for conn in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let mut conn = conn;
            let _ = io::copy(&mut conn, &mut io::sink());
        });
    }
}

/// `n` distinct ports in 1-65535, ascending, a pure function of `seed`
/// (splitmix64, so no dependency and the same list on every machine).
fn random_ports(seed: u64, n: usize) -> Vec<u16> {
    let mut state = seed;
    let mut next = || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut taken = vec![false; 65536];
    let mut ports = Vec::with_capacity(n);
    while ports.len() < n {
        let port = 1 + (next() % 65535) as usize;
        if !std::mem::replace(&mut taken[port], true) {
            ports.push(port as u16);
        }
    }
    ports.sort_unstable();
    ports
}

/// Routes the void /16 and the void IPv6 /64 from the scanner via the
/// gateway, and makes the gateway drop both before routing (forwarding is
/// off as well, and the /64 has a blackhole route, so nothing answers even
/// without the nft rule: no ICMPv6 "no route").
fn route_void(lab: &Lab, gw: &Node) -> Result {
    let net = format!("{VOID_NET}/{VOID_PREFIX}");
    let net6 = format!("{VOID6_NET}/{VOID6_PREFIX}");
    let (via, via6) = (gw.ipv4().to_string(), gw.ipv6().to_string());
    ip(lab.scanner(), &["route", "add", &net, "via", &via, "dev", IFACE])?;
    ip(lab.scanner(), &["-6", "route", "add", &net6, "via", &via6, "dev", IFACE])?;
    ip(gw, &["-6", "route", "add", "blackhole", &net6])?;
    let rules = format!(
        "table inet scry_bench {{\n\tchain void {{\n\t\ttype filter hook prerouting priority raw; policy accept;\n\
         \t\tip daddr {net} counter drop\n\t\tip6 daddr {net6} counter drop\n\t}}\n}}\n"
    );
    let mut nft = gw.command("nft").args(["-f", "-"]).stdin(Stdio::piped()).spawn()?;
    nft.stdin.take().expect("piped stdin").write_all(rules.as_bytes())?;
    let status = nft.wait()?;
    if !status.success() {
        return Err(format!("nft in {} failed: {status}", gw.ns()).into());
    }
    Ok(())
}

/// Runs `ip ARGS` in `node`'s namespace.
fn ip(node: &Node, args: &[&str]) -> Result {
    let status = node.command("ip").args(args).status()?;
    if !status.success() {
        return Err(format!("ip {} in {} failed: {status}", args.join(" "), node.ns()).into());
    }
    Ok(())
}

fn write_atomically(path: &Path, text: &str) -> Result {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("write {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("rename to {}: {e}", path.display()))?;
    Ok(())
}

fn die_with_parent() -> Result {
    // SAFETY: prctl(PR_SET_PDEATHSIG) takes a signal number and touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) } != 0 {
        return Err(io::Error::last_os_error().into());
    }
    // The parent may have died before the prctl.
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } == 1 {
        return Err("parent already exited".into());
    }
    Ok(())
}

/// One reading of an interface's counters from `/proc/net/dev`.
#[derive(Clone, Copy, Default)]
struct Counters {
    rx_packets: u64,
    tx_bytes: u64,
    tx_packets: u64,
    tx_dropped: u64,
}

/// Reads `iface`'s counters from `/proc/self/net/dev`, which shows the
/// network namespace of this process. The file stays open and is re-read.
struct DevStats {
    file: File,
    buf: String,
    iface: String,
}

impl DevStats {
    fn open(iface: &str) -> io::Result<Self> {
        Ok(Self { file: File::open("/proc/self/net/dev")?, buf: String::new(), iface: iface.to_owned() })
    }

    fn read(&mut self) -> io::Result<Counters> {
        self.file.rewind()?;
        self.buf.clear();
        self.file.read_to_string(&mut self.buf)?;
        // "  eth0: rx_bytes rx_packets errs drop fifo frame compressed multicast tx_bytes tx_packets errs drop ..."
        let line = self
            .buf
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(self.iface.as_str())?.strip_prefix(':'))
            .ok_or_else(|| io::Error::other(format!("no {} in /proc/net/dev", self.iface)))?;
        let f: Vec<u64> = line.split_whitespace().filter_map(|v| v.parse().ok()).collect();
        if f.len() < 16 {
            return Err(io::Error::other(format!("short /proc/net/dev line for {}", self.iface)));
        }
        Ok(Counters { rx_packets: f[1], tx_bytes: f[8], tx_packets: f[9], tx_dropped: f[11] })
    }
}

fn measure(ns: &str, sink: Option<&str>, out: Option<&Path>, cmd: &[String]) -> Result<ExitCode> {
    if !matches!(parse_ns_name(ns), Some((_, Role::Scanner))) {
        return Err(format!("{ns:?} is not a lab scanner namespace (scry<pid>x<n>scan)").into());
    }
    // The sink's counters first: /proc/self/net/dev shows the namespace it was opened in.
    let mut sink_dev = match sink {
        Some(sink) if matches!(parse_ns_name(sink), Some((_, Role::Target(_)))) => {
            enter_netns(sink)?;
            Some(DevStats::open(IFACE)?)
        }
        Some(sink) => {
            return Err(format!("{sink:?} is not a lab target namespace (scry<pid>x<n>t<i>)").into())
        }
        None => None,
    };
    enter_netns(ns)?;
    let mut dev = DevStats::open(IFACE)?;
    let before = dev.read()?;
    let sink_before = sink_dev.as_mut().map(DevStats::read).transpose()?;
    let mut sink_moves: Vec<(Duration, u64)> = Vec::new();
    let mut arrived = 0;
    let start = Instant::now();
    // `ip netns exec` also gives the tool the namespace's /sys, as tools expect.
    let child = Command::new("ip").args(["netns", "exec", ns]).args(cmd).spawn()?;
    let pid = libc::pid_t::try_from(child.id())?;
    // (time, packets sent so far) at every sample where the counter moved.
    let mut moves: Vec<(Duration, u64)> = Vec::new();
    let mut sent = 0;
    let (status, usage) = loop {
        let done = try_wait4(pid)?;
        let now = dev.read()?.tx_packets - before.tx_packets;
        if now != sent {
            sent = now;
            moves.push((start.elapsed(), sent));
        }
        if let (Some(dev), Some(before)) = (sink_dev.as_mut(), sink_before) {
            let now = dev.read()?.rx_packets - before.rx_packets;
            if now != arrived {
                arrived = now;
                sink_moves.push((start.elapsed(), arrived));
            }
        }
        if let Some(done) = done {
            break done;
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    let wall = start.elapsed();
    let after = dev.read()?;
    let burst = Burst::of(&moves);
    let cpu = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000).as_secs_f64();
    let exit = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) };
    let mut report = format!(
        "exit={exit}\nwall_s={:.3}\ntx_packets={}\ntx_dropped={}\ntx_bytes={}\nrx_packets={}\n\
         first_tx_s={:.3}\nburst_s={:.3}\nburst_pps={:.0}\ncpu_user_s={:.2}\ncpu_sys_s={:.2}\nmax_rss_kib={}\n",
        wall.as_secs_f64(),
        after.tx_packets - before.tx_packets,
        after.tx_dropped - before.tx_dropped,
        after.tx_bytes - before.tx_bytes,
        after.rx_packets - before.rx_packets,
        moves.first().map_or(0.0, |m| m.0.as_secs_f64()),
        burst.secs,
        burst.pps,
        cpu(usage.ru_utime),
        cpu(usage.ru_stime),
        // The largest peak of the child and the children it waited for (a root scry's scanning child).
        usage.ru_maxrss,
    );
    if let (Some(dev), Some(before)) = (sink_dev.as_mut(), sink_before) {
        // Late arrivals: the sink's counter may lag the sender's by a moment.
        std::thread::sleep(Duration::from_millis(100));
        let rx = dev.read()?.rx_packets - before.rx_packets;
        let burst = Burst::of(&sink_moves);
        write!(
            report,
            "sink_rx_packets={rx}\nsink_burst_s={:.3}\nsink_burst_pps={:.0}\n",
            burst.secs, burst.pps
        )?;
    }
    eprint!("{report}");
    if let Some(path) = out {
        let mut file = File::options().create(true).append(true).open(path)?;
        file.write_all(report.as_bytes())?;
    }
    Ok(ExitCode::from(u8::try_from(exit).unwrap_or(1)))
}

/// Moves this process into the lab namespace `ns`: it is single-threaded
/// here, so all of it moves, and /proc/self/net then shows that namespace.
fn enter_netns(ns: &str) -> Result {
    let handle = File::open(Path::new(scry_lab::NETNS_DIR).join(ns))?;
    // SAFETY: the fd is valid for the call; CLONE_NEWNET only switches the network namespace.
    if unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(format!("setns {ns}: {}", io::Error::last_os_error()).into());
    }
    Ok(())
}

/// The main sending phase: from the sample where 1% of the packets had
/// left to the one where 99% had, so neither a tool's startup (ARP) nor a
/// stray packet during its cooldown stretches the window.
struct Burst {
    secs: f64,
    pps: f64,
}

impl Burst {
    fn of(moves: &[(Duration, u64)]) -> Self {
        let Some(&(_, total)) = moves.last() else { return Self { secs: 0.0, pps: 0.0 } };
        let at = |fraction: f64| {
            let goal = (total as f64 * fraction).ceil() as u64;
            moves.iter().find(|(_, n)| *n >= goal).copied().unwrap_or((Duration::ZERO, 0))
        };
        let ((t0, n0), (t1, n1)) = (at(0.01), at(0.99));
        let secs = t1.saturating_sub(t0).as_secs_f64();
        let pps = if secs > 0.0 { (n1 - n0) as f64 / secs } else { 0.0 };
        Self { secs, pps }
    }
}

/// `wait4(pid, WNOHANG)`: the status and resource usage once the child has exited.
fn try_wait4(pid: libc::pid_t) -> io::Result<Option<(libc::c_int, libc::rusage)>> {
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both out-pointers are valid for the call.
        let rc = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        match rc {
            0 => return Ok(None),
            r if r == pid => return Ok(Some((status, usage))),
            _ => {
                let err = io::Error::last_os_error();
                if err.kind() != io::ErrorKind::Interrupted {
                    return Err(err);
                }
            }
        }
    }
}
