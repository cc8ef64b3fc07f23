//! Scans that stay inside one namespace: loopback and the node's own address,
//! both sent through `lo`.

mod common;

use common::scan;
use scry_lab::{lab_or_skip, Lab};
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};

const LISTENING: u16 = 631;

/// Scans ports 1-1024 of `target` from the scanner namespace, in which a
/// listener on every address holds [`LISTENING`].
fn scan_own(lab: &Lab, target: Ipv4Addr) {
    let out = scan(lab.scanner(), &["-p", "1-1024", &target.to_string()]);
    assert_eq!(out.in_state(target, "open"), BTreeSet::from([LISTENING]), "{}", out.stdout);
    let closed = out.in_state(target, "closed");
    assert_eq!(closed.len(), 1023, "{}", out.stats());
    assert!(out.ports().values().all(|p| p.ttl == 64 && (p.reason == "syn-ack" || p.reason == "reset")));
    assert_eq!(out.hosts().len(), 1);
    assert_eq!(out.stat("hosts_up"), 1);
}

#[test]
fn loopback_listener_is_found() {
    let lab = lab_or_skip!(Lab::builder());
    let listener =
        lab.scanner().run(|| TcpListener::bind((Ipv4Addr::UNSPECIFIED, LISTENING))).unwrap().unwrap();
    scan_own(&lab, Ipv4Addr::LOCALHOST);
    scan_own(&lab, Ipv4Addr::new(127, 0, 0, 2));
    drop(listener);
}

#[test]
fn own_address_is_scanned_through_lo() {
    let lab = lab_or_skip!(Lab::builder());
    let listener =
        lab.scanner().run(|| TcpListener::bind((Ipv4Addr::UNSPECIFIED, LISTENING))).unwrap().unwrap();
    scan_own(&lab, lab.scanner().ipv4());
    drop(listener);
}
