//! ServiceDetect with scripted databases on 127.0.0.1: exclusions and caps.

use super::*;
use std::net::Ipv4Addr;

/// Keeps the services of every host report.
struct Capture(std::rc::Rc<std::cell::RefCell<Vec<ServiceTable>>>);

impl Sink for Capture {
    fn begin(&mut self, _: &ScanInfo) -> io::Result<()> {
        Ok(())
    }
    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        self.0.borrow_mut().push(report.services.clone());
        Ok(())
    }
    fn finish(&mut self, _: &Stats) -> io::Result<()> {
        Ok(())
    }
}

/// Options with a one-probe database (300 ms NULL probe, `x` on a greeting of "x").
fn options(allports: bool) -> VersionOptions {
    options_waiting(allports, 300)
}

/// [`options`] with a NULL probe that waits `ms`.
fn options_waiting(allports: bool, ms: u32) -> VersionOptions {
    let text = format!("Exclude T:9100-9107\nProbe TCP NULL q||\ntotalwaitms {ms}\nmatch x m|^x|\n");
    let text = text.as_str();
    let db = ProbeDb::parse(std::path::Path::new("probes"), text).unwrap();
    VersionOptions {
        db: Some(Box::leak(Box::new(db))),
        config: ScanConfig::default(),
        allports,
        parallelism: None,
        host_timeout: None,
        trace: false,
        banners: false,
        stop: Arc::new(AtomicBool::new(false)),
        carried: Vec::new(),
        carried_only: false,
        unfinished: Arc::new(Mutex::new(Vec::new())),
    }
}

/// The services found on 127.0.0.1 for one open TCP port.
fn detect(port: u16, allports: bool) -> PortService {
    let found = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let options = options(allports);
    let mut sv = ServiceDetect::new(vec![Box::new(Capture(found.clone()))], options).unwrap();
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let open = PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 64 };
    sv.port(ip, port, Protocol::Tcp, &open).unwrap();
    let ports: BTreeMap<u16, PortResult> = [(port, open)].into();
    let scanned = [port];
    let tables = [PortTable::new(Protocol::Tcp, &ports, &scanned)];
    let services = ServiceTable::new();
    sv.host(&HostReport { ip, mac: None, up_reason: None, tables: &tables, services: &services }).unwrap();
    sv.finish(&Stats::default()).unwrap();
    let table = found.borrow()[0].clone();
    table[&(Protocol::Tcp, port)].clone()
}

#[test]
fn parallelism_is_the_flag_under_the_open_file_limit() {
    assert_eq!(parallelism(Some(5)), 5);
    // SAFETY: getrlimit fills a struct we own.
    let soft = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    };
    let most = usize::try_from(soft.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
    assert_eq!(parallelism(Some(usize::MAX)), most);
    assert_eq!(parallelism(None), DEFAULT_PARALLELISM.min(most));
}

#[test]
fn excluded_ports_are_not_probed_unless_allports() {
    // Nothing listens on 127.0.0.1:9100 in the test: probing it fails at once.
    let excluded = detect(9100, false).result.unwrap();
    assert_eq!(
        (excluded.outcome, excluded.info.product.as_deref()),
        (scry_service::Outcome::Excluded, Some("Excluded from version scan"))
    );
    let probed = detect(9100, true).result.unwrap();
    assert_ne!(probed.outcome, scry_service::Outcome::Excluded);
}

/// A listener on 127.0.0.1 that greets every connection with "x" and holds it.
fn greeter() -> u16 {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let _ = conn.write_all(b"x");
            std::thread::spawn(move || while matches!(conn.read(&mut [0u8; 64]), Ok(n) if n > 0) {});
        }
    });
    port
}

/// nmap 7.93 blanks "Excluded from version scan" again when any service of
/// the scan was probed (seen in the lab: port 9104 among 1000 open ports).
#[test]
fn an_excluded_port_beside_a_probed_one_has_no_product() {
    let port = greeter();
    let found = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut sv = ServiceDetect::new(vec![Box::new(Capture(found.clone()))], options(false)).unwrap();
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let open = PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 64 };
    sv.port(ip, 9100, Protocol::Tcp, &open).unwrap();
    sv.port(ip, port, Protocol::Tcp, &open).unwrap();
    let ports: BTreeMap<u16, PortResult> = [(9100, open), (port, open)].into();
    let scanned = [9100, port];
    let tables = [PortTable::new(Protocol::Tcp, &ports, &scanned)];
    let services = ServiceTable::new();
    sv.host(&HostReport { ip, mac: None, up_reason: None, tables: &tables, services: &services }).unwrap();
    sv.finish(&Stats::default()).unwrap();
    let table = found.borrow()[0].clone();
    let excluded = table[&(Protocol::Tcp, 9100)].result.clone().unwrap();
    assert_eq!((excluded.outcome, excluded.info.product), (scry_service::Outcome::Excluded, None));
    assert_eq!(table[&(Protocol::Tcp, port)].result.as_ref().unwrap().name.as_deref(), Some("x"));
}

#[test]
fn a_stop_hands_back_the_services_it_cut_short() {
    // Accepts and never answers: the NULL probe waits its 10 s unless stopped.
    let silent = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = silent.local_addr().unwrap().port();
    let options = options_waiting(false, 10_000);
    let (stop, unfinished) = (Arc::clone(&options.stop), Arc::clone(&options.unfinished));
    let found = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut sv = ServiceDetect::new(vec![Box::new(Capture(found.clone()))], options).unwrap();
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let open = PortResult { state: PortState::Open, reason: Reason::SynAck, ttl: 64 };
    sv.port(ip, port, Protocol::Tcp, &open).unwrap();
    stop.store(true, Ordering::Relaxed);
    sv.finish(&Stats::default()).unwrap();
    assert_eq!(*unfinished.lock().unwrap(), [(ip, Protocol::Tcp, port)]);
}

/// After a finished port scan, a resumed run reports the carried ports of
/// hosts its walk never reported, versioned, and no other host.
#[test]
fn carried_ports_are_versioned_and_reported_open() {
    let port = greeter();
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let other = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let mut options = options(false);
    options.carried = vec![(ip, Protocol::Tcp, port)];
    options.carried_only = true;
    let unfinished = Arc::clone(&options.unfinished);
    let reports = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let mut sv = ServiceDetect::new(vec![Box::new(Reports(reports.clone()))], options).unwrap();
    // A host the walk reports without carried ports was reported by the stopped run.
    let none = BTreeMap::new();
    let tables = [PortTable::new(Protocol::Tcp, &none, &[])];
    let services = ServiceTable::new();
    let report = HostReport { ip: other, mac: None, up_reason: None, tables: &tables, services: &services };
    sv.host(&report).unwrap();
    sv.finish(&Stats::default()).unwrap();
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let (host, open, service) = &reports[0];
    assert_eq!((*host, open.as_slice()), (ip, &[port][..]));
    assert_eq!(service.as_deref(), Some("x"));
    assert!(unfinished.lock().unwrap().is_empty());
}

/// A host report's address, open ports and first service's name.
type Reported = (IpAddr, Vec<u16>, Option<String>);

/// Keeps what each host report said.
struct Reports(std::rc::Rc<std::cell::RefCell<Vec<Reported>>>);

impl Sink for Reports {
    fn begin(&mut self, _: &ScanInfo) -> io::Result<()> {
        Ok(())
    }
    fn host(&mut self, report: &HostReport<'_>) -> io::Result<()> {
        let open = report
            .tables
            .iter()
            .flat_map(|t| t.ports.iter().filter(|(_, r)| r.state == PortState::Open).map(|(p, _)| *p))
            .collect();
        let name = report.services.values().next().and_then(|s| s.result.as_ref()?.name.clone());
        self.0.borrow_mut().push((report.ip, open, name));
        Ok(())
    }
    fn finish(&mut self, _: &Stats) -> io::Result<()> {
        Ok(())
    }
}
