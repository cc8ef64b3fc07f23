//! The OS guess from one SYN-ACK, for every host with an open port.
//!
//! Each output sink is wrapped in a [`QuickOs`]; the wrappers share one
//! [`Guesser`], which keeps the first SYN-ACK of each host (memory grows
//! with the hosts that answered, not the probes) and makes each host's
//! guess once, from that reply alone (`compute::one_syn_ack`). Wrapping the
//! sinks one by one keeps them apart: one that fails (a closed pipe) is
//! dropped alone, as without the guess. The database is read on a thread of
//! its own from the start of the scan (privileges are gone by then), so that
//! the reading overlaps the scan instead of delaying the first report;
//! without a database, there is no guess.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::rc::Rc;

use scry_os::compute::one_syn_ack;
use scry_os::{Database, FamilyScore, Matcher, OsResult, SubjectFingerprint};
use scry_packet::{Frame, Transport};
use scry_probe::results::PortResult;
use scry_probe::services::Protocol;
use scry_probe::state::Reason;

use crate::datadir::Missing;
use crate::output::{HostReport, OsReport, QuickGuess, ScanInfo, Sink, Stats};

/// One host's guess, as computed once for every sink.
struct Guess {
    result: OsResult,
    families: Vec<FamilyScore>,
    fingerprint: SubjectFingerprint,
    from: u16,
}

/// The OS database, as far as it has been read.
enum Db {
    /// Not read (only while being taken from [`Db::Reading`]).
    Unread,
    /// Reading; the error is said when the first guess needs the database.
    Reading(std::thread::JoinHandle<Result<Database, String>>),
    /// The database, if it could be read.
    Read(Option<Box<Database>>),
}

/// The SYN-ACKs kept and the guesses made, shared by the wrapped sinks.
pub struct Guesser {
    /// The database's files, or why there are none.
    db_paths: Result<Vec<PathBuf>, Missing>,
    db: Db,
    first: HashMap<IpAddr, (u16, Frame)>,
    /// The last host guessed: the sinks ask one after another.
    last: Option<(IpAddr, Option<Guess>)>,
    /// Whether the scan has been told that IPv6 hosts get no guess.
    told_ipv6: bool,
}

impl Guesser {
    /// The guesser, starting to read the database; call once privileges are given up
    /// (a thread runs from here on).
    pub fn new(db_paths: Result<Vec<PathBuf>, Missing>) -> Rc<RefCell<Guesser>> {
        let mut guesser =
            Guesser { db_paths, db: Db::Unread, first: HashMap::new(), last: None, told_ipv6: false };
        guesser.start_reading();
        Rc::new(RefCell::new(guesser))
    }

    fn start_reading(&mut self) {
        let paths = self.db_paths.clone();
        self.db = Db::Reading(std::thread::spawn(move || {
            let loaded = match paths {
                Ok(paths) => crate::osmatch::load_database(&paths),
                Err(missing) => Err(missing.into()),
            };
            loaded.map_err(|e| format!("{e:#}"))
        }));
    }

    /// Keeps `ip`'s first SYN-ACK. An IPv6 host's is no sample: nmap-os-db
    /// holds fingerprints of IPv4 replies (TTL, IP ID, DF), so the scan is
    /// told once that IPv6 hosts get no guess.
    fn keep(&mut self, ip: IpAddr, port: u16, frame: &Frame) {
        if ip.is_ipv6() {
            if !std::mem::replace(&mut self.told_ipv6, true) {
                eprintln!("scry: no OS guess for IPv6 hosts: nmap-os-db's fingerprints are of IPv4 replies");
            }
            return;
        }
        self.first.entry(ip).or_insert((port, *frame));
    }

    /// The database, once read.
    fn database(&mut self) -> Option<&Database> {
        if let Db::Reading(_) = self.db {
            let Db::Reading(thread) = std::mem::replace(&mut self.db, Db::Unread) else { unreachable!() };
            let read = thread.join().unwrap_or_else(|_| Err("the reading thread panicked".into()));
            let read = read.map_err(|e| eprintln!("scry: no OS guess from SYN-ACKs: {e}")).ok();
            self.db = Db::Read(read.map(Box::new));
        }
        match &self.db {
            Db::Read(db) => db.as_deref(),
            Db::Unread | Db::Reading(_) => None,
        }
    }

    fn guess(&mut self, ip: IpAddr) -> Option<&Guess> {
        if !matches!(&self.last, Some((last, _)) if *last == ip) {
            let guess = self.first.remove(&ip).and_then(|(from, frame)| self.make(from, &frame));
            self.last = Some((ip, guess));
        }
        self.last.as_ref().and_then(|(_, g)| g.as_ref())
    }

    fn make(&mut self, from: u16, frame: &Frame) -> Option<Guess> {
        let packet = frame.ip()?;
        let Transport::Tcp(tcp) = &packet.transport else { return None };
        let matcher = Matcher::new(self.database()?);
        // The SYN-ACK was validated: it acknowledges our sequence number + 1.
        // The SYN's acknowledgment field is zero.
        let fingerprint = one_syn_ack(&packet.header, tcp, tcp.ack.wrapping_sub(1), 0);
        let result = matcher.match_subject(&fingerprint);
        let families = matcher.families(&fingerprint);
        Some(Guess { result, families, fingerprint, from })
    }
}

/// One sink, with a one-packet OS guess after each host's report.
pub struct QuickOs {
    inner: Box<dyn Sink>,
    guesser: Rc<RefCell<Guesser>>,
}

impl QuickOs {
    pub fn new(inner: Box<dyn Sink>, guesser: Rc<RefCell<Guesser>>) -> QuickOs {
        QuickOs { inner, guesser }
    }
}

impl Sink for QuickOs {
    fn begin(&mut self, info: &ScanInfo) -> io::Result<()> {
        self.inner.begin(info)
    }

    fn host_up(&mut self, ip: IpAddr, reason: Reason, ttl: Option<u8>) -> io::Result<()> {
        self.inner.host_up(ip, reason, ttl)
    }

    fn port(&mut self, ip: IpAddr, port: u16, protocol: Protocol, result: &PortResult) -> io::Result<()> {
        self.inner.port(ip, port, protocol, result)
    }

    fn syn_ack(&mut self, ip: IpAddr, port: u16, frame: &Frame) -> io::Result<()> {
        self.guesser.borrow_mut().keep(ip, port, frame);
        Ok(())
    }

    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        self.inner.host(report)?;
        let mut guesser = self.guesser.borrow_mut();
        let guess = guesser.guess(report.ip).map(|g| QuickGuess {
            result: &g.result,
            families: &g.families,
            fingerprint: &g.fingerprint,
            from: g.from,
        });
        self.inner.os_quick(report.ip, guess.as_ref())
    }

    fn os(&mut self, ip: IpAddr, os: &OsReport<'_>) -> io::Result<()> {
        self.inner.os(ip, os)
    }

    fn finish(&mut self, stats: &Stats) -> io::Result<()> {
        self.inner.finish(stats)
    }
}
