//! Cookies accept exactly the replies a probe can provoke and nothing near them.

use proptest::prelude::*;
use scry_probe::cookie::{CookieKey, Flow, ProbeKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const US: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const THEM: Ipv4Addr = Ipv4Addr::new(198, 19, 7, 9);
const US6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const THEM6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0x77, 9);

fn probe_v4() -> Flow {
    Flow::new(US.into(), THEM.into(), 40000, 443)
}

fn probe_v6() -> Flow {
    Flow::new(US6.into(), THEM6.into(), 40000, 443)
}

#[test]
fn syn_ack_and_rst_accept_only_the_expected_acks() {
    let key = CookieKey::from_seed(1);
    for probe in [probe_v4(), probe_v6()] {
        let reply = probe.reversed();
        let cookie = key.cookie(&probe, ProbeKind::TCP_SYN);
        assert!(key.check_syn_ack(&reply, ProbeKind::TCP_SYN, cookie.wrapping_add(1)));
        assert!(key.check_rst(&reply, ProbeKind::TCP_SYN, cookie.wrapping_add(1)));
        assert!(key.check_rst(&reply, ProbeKind::TCP_SYN, cookie));
        assert!(!key.check_syn_ack(&reply, ProbeKind::TCP_SYN, cookie), "SYN-ACK must count the SYN");
        for k in [2u32, 3, 100, 1 << 16, 1 << 31] {
            for forged in [cookie.wrapping_add(k), cookie.wrapping_sub(k - 1)] {
                assert!(!key.check_syn_ack(&reply, ProbeKind::TCP_SYN, forged), "ack {forged:#x}");
                assert!(!key.check_rst(&reply, ProbeKind::TCP_SYN, forged), "ack {forged:#x}");
            }
        }
    }
}

/// Regression fixture: under `from_seed(8347)` this SYN's cookie is `u32::MAX`
/// (found by searching seeds), so the acks that validate it wrap to 0.
#[test]
fn acks_wrap_at_two_to_the_32() {
    let key = CookieKey::from_seed(8347);
    let probe = Flow::new(US.into(), Ipv4Addr::new(198, 18, 197, 231).into(), 40000, 443);
    assert_eq!(key.cookie(&probe, ProbeKind::TCP_SYN), u32::MAX);
    let reply = probe.reversed();
    assert!(key.check_syn_ack(&reply, ProbeKind::TCP_SYN, 0));
    assert!(!key.check_syn_ack(&reply, ProbeKind::TCP_SYN, u32::MAX));
    assert!(!key.check_syn_ack(&reply, ProbeKind::TCP_SYN, 1));
    assert!(key.check_rst(&reply, ProbeKind::TCP_SYN, 0));
    assert!(key.check_rst(&reply, ProbeKind::TCP_SYN, u32::MAX));
    assert!(!key.check_rst(&reply, ProbeKind::TCP_SYN, 1));
    assert!(!key.check_rst(&reply, ProbeKind::TCP_SYN, u32::MAX - 1));
}

#[test]
fn quoted_probes_are_not_reversed() {
    let key = CookieKey::from_seed(3);
    for probe in [probe_v4(), probe_v6()] {
        let cookie = key.cookie(&probe, ProbeKind::TCP_SYN);
        assert!(key.check_quoted_seq(&probe, ProbeKind::TCP_SYN, cookie));
        assert!(!key.check_quoted_seq(&probe, ProbeKind::TCP_SYN, cookie.wrapping_add(1)));
        assert!(!key.check_quoted_seq(&probe.reversed(), ProbeKind::TCP_SYN, cookie));
    }
}

#[test]
fn keys_kinds_directions_and_fields_all_change_the_cookie() {
    let key = CookieKey::from_seed(4);
    let base = probe_v4();
    let cookie = key.cookie(&base, ProbeKind::TCP_SYN);
    let variants = [
        CookieKey::from_seed(5).cookie(&base, ProbeKind::TCP_SYN),
        key.cookie(&base, ProbeKind::TCP_ACK),
        key.cookie(&base.reversed(), ProbeKind::TCP_SYN),
        key.cookie(&Flow { src_port: 40001, ..base }, ProbeKind::TCP_SYN),
        key.cookie(&Flow { dst_port: 444, ..base }, ProbeKind::TCP_SYN),
        key.cookie(&Flow { dst: Ipv4Addr::new(198, 19, 7, 10).into(), ..base }, ProbeKind::TCP_SYN),
        key.cookie(&Flow { src: Ipv4Addr::new(198, 18, 0, 2).into(), ..base }, ProbeKind::TCP_SYN),
        // The same addresses as IPv4-mapped IPv6 are a different flow.
        key.cookie(
            &Flow { src: IpAddr::V6(US.to_ipv6_mapped()), dst: IpAddr::V6(THEM.to_ipv6_mapped()), ..base },
            ProbeKind::TCP_SYN,
        ),
    ];
    assert_ne!(CookieKey::random().to_bytes(), CookieKey::random().to_bytes());
    for (i, other) in variants.iter().enumerate() {
        assert_ne!(*other, cookie, "variant {i}");
    }
}

#[test]
fn same_key_same_cookie_and_v4_fast_path_agrees() {
    let probe = probe_v4();
    let key = CookieKey::from_seed(6);
    assert_eq!(key.cookie(&probe, ProbeKind::UDP), CookieKey::from_seed(6).cookie(&probe, ProbeKind::UDP));
    assert_eq!(key.cookie(&probe, ProbeKind::UDP), key.cookie_v4(US, THEM, 40000, 443, ProbeKind::UDP));
    let restored = CookieKey::from_bytes(key.to_bytes());
    assert_eq!(restored.cookie(&probe_v6(), ProbeKind::UDP), key.cookie(&probe_v6(), ProbeKind::UDP));
    assert_eq!(format!("{key:?}"), "CookieKey(..)");
}

#[test]
fn source_ports_stay_in_range_and_vary_by_target() {
    let key = CookieKey::from_seed(7);
    let mut distinct = std::collections::HashSet::new();
    for host in 0..1000u32 {
        let dst = IpAddr::V4(Ipv4Addr::from(0xc612_0000 | host));
        let port = key.source_port(dst, 80, 40000..=40255);
        assert!((40000..=40255).contains(&port));
        assert_eq!(port, key.source_port(dst, 80, 40000..=40255));
        distinct.insert(port);
    }
    assert!(distinct.len() > 200, "only {} of 256 ports used", distinct.len());
    assert_eq!(key.source_port(THEM.into(), 1, 5..=5), 5);
    let full = key.source_port(THEM6.into(), 1, 0..=u16::MAX);
    assert_eq!(full, key.source_port(THEM6.into(), 1, 0..=u16::MAX));
}

#[test]
#[should_panic(expected = "empty source port range")]
fn empty_source_port_range_panics() {
    #[allow(clippy::reversed_empty_ranges)]
    CookieKey::from_seed(8).source_port(THEM.into(), 1, 10..=9);
}

proptest! {
    #[test]
    fn only_cookie_plus_one_validates_a_syn_ack(
        seed: u64, src: u32, dst: u32, sport: u16, dport: u16, delta: u32,
    ) {
        let key = CookieKey::from_seed(seed);
        let probe = Flow::new(Ipv4Addr::from(src).into(), Ipv4Addr::from(dst).into(), sport, dport);
        let cookie = key.cookie(&probe, ProbeKind::TCP_SYN);
        let ack = cookie.wrapping_add(1).wrapping_add(delta);
        prop_assert_eq!(key.check_syn_ack(&probe.reversed(), ProbeKind::TCP_SYN, ack), delta == 0);
        prop_assert_eq!(
            key.check_rst(&probe.reversed(), ProbeKind::TCP_SYN, ack),
            delta == 0 || delta == u32::MAX
        );
    }

    #[test]
    fn v6_cookies_validate(seed: u64, src: u128, dst: u128, sport: u16, dport: u16) {
        let key = CookieKey::from_seed(seed);
        let probe = Flow::new(Ipv6Addr::from(src).into(), Ipv6Addr::from(dst).into(), sport, dport);
        let cookie = key.cookie(&probe, ProbeKind::TCP_SYN);
        prop_assert!(key.check_syn_ack(&probe.reversed(), ProbeKind::TCP_SYN, cookie.wrapping_add(1)));
        prop_assert!(key.check_quoted_seq(&probe, ProbeKind::TCP_SYN, cookie));
    }
}
