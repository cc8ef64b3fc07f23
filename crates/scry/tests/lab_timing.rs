//! nmap's timing templates in the lab: `-T4` over every port finds exactly
//! the listeners, and polite `-T2` (2.5 probes a second) agrees with it on
//! two ports. Results only; what each template sets is unit-tested
//! (crates/scry/src/timing/tests.rs).

mod common;

use common::{heavy, scan};
use scry_lab::{lab_or_skip, Lab, TargetSpec};
use std::collections::BTreeSet;

const LISTENING: &[u16] = &[22, 80, 443, 8080, 40022];

#[test]
fn aggressive_finds_exactly_the_listeners_and_polite_agrees() {
    let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(LISTENING)));
    let ip = lab.targets()[0].ipv4();
    let target = ip.to_string();

    let fast = {
        let _one_at_a_time = heavy();
        scan(lab.scanner(), &["-T4", "-p-", "--no-os-guess", &target])
    };
    let listening: BTreeSet<u16> = LISTENING.iter().copied().collect();
    assert_eq!(fast.in_state(ip, "open"), listening, "{}", fast.stats());
    let closed = fast.in_state(ip, "closed");
    assert_eq!(closed.len(), usize::from(u16::MAX) - LISTENING.len(), "{}", fast.stats());
    assert!(closed.is_disjoint(&listening));

    // One open and one closed port, one probe per 0.4 s.
    let polite =
        scan(lab.scanner(), &["-Tpolite", "-p", "22,23", "--no-os-guess", "--stats-every", "100ms", &target]);
    let (open, closed): (BTreeSet<u16>, BTreeSet<u16>) = ([22].into(), [23].into());
    assert_eq!((polite.in_state(ip, "open"), polite.in_state(ip, "closed")), (open, closed));
    let same: Vec<_> = fast.triples().into_iter().filter(|(_, port, _)| [22, 23].contains(port)).collect();
    assert_eq!(polite.triples().into_iter().collect::<Vec<_>>(), same);
    // Two probes: both ports answered, so no retry went out.
    assert_eq!(polite.stat("sent"), 2, "{}", polite.stats());
    // The progress lines show the template's rate, not the default start.
    let shown: Vec<&str> = polite
        .stderr
        .lines()
        .filter(|l| l.starts_with("Stats: "))
        .filter_map(|l| l.split_once(", rate ")?.1.split_once(" pps").map(|(rate, _)| rate))
        .collect();
    assert!(!shown.is_empty() && shown.iter().all(|r| *r == "2.5"), "{}", polite.stderr);
}
