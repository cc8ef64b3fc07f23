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

/// The services found on 127.0.0.1 for one open TCP port.
fn detect(port: u16, allports: bool) -> PortService {
    let text = "Exclude T:9100-9107\nProbe TCP NULL q||\ntotalwaitms 300\nmatch x m|^x|\n";
    let db = ProbeDb::parse(std::path::Path::new("probes"), text).unwrap();
    let found = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let options = VersionOptions {
        db: Some(Box::leak(Box::new(db))),
        config: ScanConfig::default(),
        allports,
        parallelism: None,
        banners: false,
        stop: Arc::new(AtomicBool::new(false)),
    };
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
