//! Tests of IPv6 specs, mixed IPv4 and IPv6 sets, and name resolution by family.

use super::tests::{addrs, builder, ip, message, set};
use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Knows `dual.test` (IPv6 listed first, as getaddrinfo may), `v6only.test`,
/// `v4only.test`.
fn resolver(host: &str) -> io::Result<Vec<IpAddr>> {
    match host {
        "dual.test" => Ok(vec![ip("2001:2::1:5"), ip("198.18.5.77"), ip("2001:2::1:6")]),
        "v6only.test" => Ok(vec![ip("2001:2::2:1")]),
        "v4only.test" => Ok(vec![ip("198.18.6.1")]),
        _ => Err(io::Error::new(io::ErrorKind::NotFound, "Name or service not known")),
    }
}

#[test]
fn ipv6_addresses_and_prefixes() {
    assert_eq!(addrs(&set(&["2001:2::1"])), ["2001:2::1"]);
    assert_eq!(addrs(&set(&["2001:2::77/126"])), ["2001:2::74", "2001:2::75", "2001:2::76", "2001:2::77"]);
    assert_eq!(addrs(&set(&["2001:0002:0:0::0001/128"])), ["2001:2::1"]);
    let block = set(&["2001:2::/104"]);
    assert_eq!(block.len(), 1 << 24);
    assert_eq!(block.len_v4(), 0);
    assert_eq!(block.get((1 << 24) - 1), Some(ip("2001:2::ff:ffff")));
    assert_eq!(block.get(1 << 24), None);
    assert_eq!(block.index_of(ip("2001:2::ff:fffe")), Some((1 << 24) - 2));
    assert_eq!(block.index_of(ip("2001:2::100:0")), None);
    assert_eq!(
        block.ranges_v6().collect::<Vec<_>>(),
        [("2001:2::".parse().unwrap(), "2001:2::ff:ffff".parse().unwrap())]
    );
    assert_eq!(block.ranges().len(), 0);
}

#[test]
fn a_mixed_set_indexes_ipv4_first_then_ipv6() {
    let s = set(&["2001:2::5", "198.18.0.1-2", "2001:2::4", "::ffff:198.18.0.9"]);
    assert_eq!(addrs(&s), ["198.18.0.1", "198.18.0.2", "::ffff:198.18.0.9", "2001:2::4", "2001:2::5"]);
    assert_eq!((s.len(), s.len_v4(), s.len_v6()), (5, 2, 3));
    for (i, a) in s.iter().enumerate() {
        assert_eq!(s.get(i as u64), Some(a));
        assert_eq!(s.index_of(a), Some(i as u64));
    }
    assert_eq!(s.get(5), None);
    assert!(!s.contains(ip("2001:2::6")) && !s.contains(ip("198.18.0.3")));
    assert_eq!(addrs(&s.only(Family::V4)), ["198.18.0.1", "198.18.0.2"]);
    assert_eq!(addrs(&s.only(Family::V6)), ["::ffff:198.18.0.9", "2001:2::4", "2001:2::5"]);
    let less = s.without(&["198.18.0.1".parse().unwrap()]);
    assert_eq!(addrs(&less), ["198.18.0.2", "::ffff:198.18.0.9", "2001:2::4", "2001:2::5"]);
    assert_eq!(s.iter().size_hint(), (5, Some(5)));
    assert_eq!(
        s.ip_ranges().collect::<Vec<_>>(),
        [
            (ip("198.18.0.1"), ip("198.18.0.2")),
            (ip("::ffff:198.18.0.9"), ip("::ffff:198.18.0.9")),
            (ip("2001:2::4"), ip("2001:2::5"))
        ]
    );
}

#[test]
fn a_prefix_too_large_to_walk_is_refused_with_its_address_count() {
    assert_eq!(
        message("2001:2::/64"),
        "target \"2001:2::/64\" holds 18446744073709551616 addresses, more than the 16777216 one IPv6 \
         prefix may hold; give a longer prefix or an address list (-iL), or raise --max-targets \
         (at most 4294967296)"
    );
    assert!(message("::/0").contains("holds 340282366920938463463374607431768211456 addresses"));
    assert!(message("2001:2::/103").contains("holds 33554432 addresses, more than the 16777216"));
    let mut b = builder().max_prefix_hosts(1 << 32);
    b.add("2001:2::/96").unwrap();
    assert!(matches!(
        b.add("2001:2::/95").unwrap_err(),
        TargetError::TooLarge { host_bits: 33, limit: 4_294_967_296, .. }
    ));
    let huge = builder().max_prefix_hosts(u64::MAX);
    assert_eq!(huge.max_prefix_hosts, MAX_PREFIX_HOSTS_LIMIT);
    // Excludes are never walked: any prefix may be excluded.
    let mut b = builder();
    b.add("2001:2::/120").unwrap();
    b.exclude("2001:2::/48").unwrap();
    assert!(b.build().is_empty());
}

#[test]
fn the_ipv6_total_is_bounded() {
    let mut b = builder().max_prefix_hosts(1 << 32);
    for i in 0..256u32 {
        b.add(&format!("2001:2:0:{i:x}::/96")).unwrap();
    }
    let err = b.add("2001:2:0:100::/96").unwrap_err();
    assert_eq!(
        err.to_string(),
        "target \"2001:2:0:100::/96\" brings the IPv6 targets to more than 1099511627776 addresses; split the scan"
    );
    assert_eq!(b.build().len(), 1 << 40);
}

#[test]
fn ipv6_errors_name_the_token_and_why() {
    assert_eq!(message("2001:2::g"), "bad target \"2001:2::g\": \"2001:2::g\" is not an IPv6 address");
    assert_eq!(message("2001:2:::1"), "bad target \"2001:2:::1\": \"2001:2:::1\" is not an IPv6 address");
    assert_eq!(message("2001:2::/129"), "bad target \"2001:2::/129\": prefix length 129 is larger than 128");
    assert_eq!(message("198.18.0.1/64"), "bad target \"198.18.0.1/64\": prefix length 64 is larger than 32");
    assert_eq!(
        message("198.18.0.1%eth0"),
        "bad target \"198.18.0.1%eth0\": an interface (%zone) belongs only after an IPv6 address"
    );
    assert_eq!(
        message("fe80::1%"),
        "bad target \"fe80::1%\": an interface (%zone) belongs only after an IPv6 address"
    );
    assert_eq!(
        message("fe80::1"),
        "bad target \"fe80::1\": a link-local address needs its interface, as in fe80::1%eth0"
    );
    assert_eq!(message("2001:2::/x"), "bad target \"2001:2::/x\": prefix length \"x\" is not a number");
}

#[test]
fn link_local_targets_keep_their_interface() {
    let s = set(&["fe80::1%veth0", "fe80::2:0%lab1/127", "2001:2::1"]);
    assert_eq!(addrs(&s), ["2001:2::1", "fe80::1", "fe80::2:0", "fe80::2:1"]);
    assert_eq!(s.zone("fe80::1".parse().unwrap()), Some("veth0"));
    assert_eq!(s.zone("fe80::2:1".parse().unwrap()), Some("lab1"));
    assert_eq!(s.zone("2001:2::1".parse().unwrap()), None);
    assert_eq!(s.only(Family::V6).zone("fe80::1".parse().unwrap()), Some("veth0"));
    // Excluding link-local space needs no interface.
    let mut b = builder();
    b.add("fe80::1%veth0").unwrap();
    b.add("2001:2::1").unwrap();
    b.exclude("fe80::/10").unwrap();
    assert_eq!(addrs(&b.build()), ["2001:2::1"]);
}

#[test]
fn input_lists_and_excludes_take_ipv6() {
    let list = "2001:2::1\n# a hitlist\n2001:2::10/127 198.18.0.1  # two on a line\n\nfe80::9%veth0\n";
    let mut b = builder();
    b.add_list(list.as_bytes(), "hosts.txt").unwrap();
    b.exclude("198.18.0.1,2001:2::11").unwrap();
    assert_eq!(addrs(&b.build()), ["2001:2::1", "2001:2::10", "fe80::9"]);

    let err = builder().add_list("2001:2::1\n2001:2::/64\n".as_bytes(), "hosts.txt").unwrap_err();
    assert!(
        err.to_string().starts_with("-iL hosts.txt:2: target \"2001:2::/64\" holds 18446744073709551616"),
        "{err}"
    );
    let mut b = builder();
    b.add("2001:2::/120").unwrap();
    b.exclude_list("2001:2::/121\n2001:2::80\n".as_bytes(), "skip.txt").unwrap();
    let s = b.build();
    assert_eq!(s.len(), 127);
    assert_eq!(s.get(0), Some(ip("2001:2::81")));
    assert_eq!(split_exclude("198.18.0.1,3,2001:2::/126,::1"), ["198.18.0.1,3", "2001:2::/126", "::1"]);
    let err = builder().exclude("198.18.0.1,2001:2::zz").unwrap_err();
    assert_eq!(
        err.to_string(),
        "--exclude: bad target \"2001:2::zz\": \"2001:2::zz\" is not an IPv6 address"
    );
}

#[test]
fn names_take_ipv4_first_and_with_minus_6_ipv6_first() {
    let resolve = |family: Family, specs: &[&str]| {
        let mut b = TargetSet::builder().prefer(family).resolver(resolver);
        for spec in specs {
            b.add(spec).unwrap();
        }
        addrs(&b.build())
    };
    assert_eq!(resolve(Family::V4, &["dual.test"]), ["198.18.5.77"]);
    assert_eq!(resolve(Family::V6, &["dual.test"]), ["2001:2::1:5"]);
    // Beyond nmap: a name without the preferred family's address takes the other's.
    assert_eq!(resolve(Family::V4, &["v6only.test"]), ["2001:2::2:1"]);
    assert_eq!(resolve(Family::V6, &["v4only.test"]), ["198.18.6.1"]);
    assert_eq!(resolve(Family::V6, &["dual.test/127"]), ["2001:2::1:4", "2001:2::1:5"]);
    assert_eq!(
        resolve(Family::V4, &["dual.test/31", "v6only.test"]),
        ["198.18.5.76", "198.18.5.77", "2001:2::2:1"]
    );
    let mut b = TargetSet::builder().resolver(resolver);
    assert_eq!(
        b.add("dual.test/33").unwrap_err().to_string(),
        "bad target \"dual.test/33\": prefix length 33 is larger than 32"
    );
}

#[test]
fn ipv6_literals_never_reach_the_resolver() {
    let mut b = TargetSet::builder().resolver(|host: &str| panic!("resolver called for {host}"));
    for spec in ["2001:2::zz", "::1/200", "fe80::1", "2001:2::1%", "[2001:2::1]"] {
        assert!(b.add(spec).is_err(), "{spec}");
    }
}

/// An IPv6 spec in a small space, so sets stay small and overlap.
fn small_v6_spec() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..4096, 118u8..=128)
            .prop_map(|(a, len)| format!("{}/{len}", Ipv6Addr::from(0x2001_0002_u128 << 96 | u128::from(a)))),
        (0u32..4096).prop_map(|a| format!("{}", Ipv6Addr::from(0x2001_0002_u128 << 96 | u128::from(a)))),
        (0u32..64, 28u8..=32).prop_map(|(a, len)| format!("{}/{len}", Ipv4Addr::from(0xc612_0000 | a))),
    ]
}

proptest! {
    #[test]
    fn ipv6_text_never_panics(spec in "[0-9a-fA-F:%./]{0,45}") {
        let _ = builder().add(&spec);
        let _ = builder().exclude(&spec);
    }

    #[test]
    fn mixed_set_invariants_hold(
        include in prop::collection::vec(small_v6_spec(), 0..6),
        exclude in prop::collection::vec(small_v6_spec(), 0..4),
    ) {
        let mut b = builder();
        for spec in &include {
            b.add(spec).unwrap();
        }
        for spec in &exclude {
            b.exclude(spec).unwrap();
        }
        let s = b.build();
        let included: BTreeSet<IpAddr> = include.iter().flat_map(|t| set(&[t]).iter().collect::<Vec<_>>()).collect();
        let excluded: BTreeSet<IpAddr> = exclude.iter().flat_map(|t| set(&[t]).iter().collect::<Vec<_>>()).collect();
        // IpAddr orders every IPv4 address before every IPv6 one, as the index does.
        let expected: Vec<IpAddr> = included.difference(&excluded).copied().collect();
        let got: Vec<IpAddr> = s.iter().collect();
        prop_assert_eq!(got.len() as u64, s.len());
        prop_assert_eq!(&got, &expected);
        for (i, &a) in got.iter().enumerate() {
            prop_assert_eq!(s.get(i as u64), Some(a));
            prop_assert_eq!(s.index_of(a), Some(i as u64));
        }
        prop_assert_eq!(s.get(s.len()), None);
        prop_assert!(excluded.iter().all(|&a| !s.contains(a)));
        let ranges: Vec<_> = s.ranges_v6().map(|(a, b)| (u128::from(a), u128::from(b))).collect();
        prop_assert!(ranges.windows(2).all(|w| w[0].1 + 1 < w[1].0));
    }
}
