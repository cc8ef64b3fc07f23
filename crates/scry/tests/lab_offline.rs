//! `--offline`: every probe is built and counted, none is sent, nothing is
//! listened to, and so no privilege is needed.

mod common;

use common::{Scan, Sniffer, SCRY};
use scry_lab::{lab_or_skip, Lab, TargetSpec};

#[test]
fn offline_builds_every_probe_sends_none_and_needs_no_privilege() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[22])));
    let sniffer = Sniffer::start(&lab.targets()[0], "src host 198.18.0.1");
    // As `nobody`, with no capability: a real scan would stop at the raw socket.
    let output = lab
        .scanner()
        .command("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"])
        .arg(SCRY)
        .args(["--offline", "--retries", "0", "-p", "1-1000", "198.18.0.10-11", "-oJ", "-"])
        .output()
        .unwrap();
    let seen = sniffer.finish();
    let out = Scan::from_output(output.status, &output.stdout, &output.stderr);
    assert!(out.status.success(), "{}: {}", out.status, out.stderr);
    assert_eq!(out.stat("sent"), 2000, "{}", out.stats());
    assert_eq!(out.stat("received"), 0);
    assert_eq!(out.ports().len(), 0);
    assert!(seen.is_empty(), "an offline scan reached the target: {seen:#?}");
}
