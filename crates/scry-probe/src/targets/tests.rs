//! Tests of target spec parsing, lists, exclusions and the compiled set.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(super) fn builder() -> TargetSetBuilder {
    TargetSet::builder().no_resolve(true)
}

pub(super) fn set(specs: &[&str]) -> TargetSet {
    let mut b = builder();
    for spec in specs {
        b.add(spec).unwrap();
    }
    b.build()
}

pub(super) fn addrs(set: &TargetSet) -> Vec<String> {
    set.iter().map(|a| a.to_string()).collect()
}

pub(super) fn message(spec: &str) -> String {
    builder().add(spec).unwrap_err().to_string()
}

pub(super) fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn v4(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

/// A resolver that knows `scanme.test` (IPv4), `v6only.test` and nothing else.
fn fake_resolver(calls: Arc<AtomicUsize>) -> impl FnMut(&str) -> io::Result<Vec<IpAddr>> + Send {
    move |host| {
        calls.fetch_add(1, Ordering::SeqCst);
        match host.to_ascii_lowercase().as_str() {
            "scanme.test" => Ok(vec!["2001:db8::1".parse().unwrap(), "198.18.5.77".parse().unwrap()]),
            "v6only.test" => Ok(vec!["2001:db8::1".parse().unwrap()]),
            "empty.test" => Ok(Vec::new()),
            _ => Err(io::Error::new(io::ErrorKind::NotFound, "Name or service not known")),
        }
    }
}

#[test]
fn single_addresses_and_cidr_blocks() {
    assert_eq!(addrs(&set(&["198.18.0.1"])), ["198.18.0.1"]);
    let block = set(&["198.18.0.77/24"]);
    assert_eq!(block.len(), 256);
    assert_eq!(block.get(0), Some(ip("198.18.0.0")));
    assert_eq!(block.get(255), Some(ip("198.18.0.255")));
    assert_eq!(block.get(256), None);
    assert_eq!(set(&["198.18.0.1/32"]).len(), 1);
    assert_eq!(set(&["198.18.0.1/31"]).len(), 2);
    let everything = set(&["1.2.3.4/0"]);
    assert_eq!(everything.len(), 1 << 32);
    assert_eq!(everything.get((1 << 32) - 1), Some(IpAddr::V4(Ipv4Addr::BROADCAST)));
    assert_eq!(everything.index_of(IpAddr::V4(Ipv4Addr::BROADCAST)), Some((1 << 32) - 1));
    assert_eq!(set(&["10.0.0.0/8"]).ranges().collect::<Vec<_>>(), [(v4("10.0.0.0"), v4("10.255.255.255"))]);
}

#[test]
fn octet_ranges_and_lists() {
    assert_eq!(set(&["198.18.0.1-20"]).len(), 20);
    let two = set(&["198.18.1-2.0-255"]);
    assert_eq!(two.ranges().collect::<Vec<_>>(), [(v4("198.18.1.0"), v4("198.18.2.255"))]);
    assert_eq!(
        addrs(&set(&["198.18.0.1,3,5-7"])),
        ["198.18.0.1", "198.18.0.3", "198.18.0.5", "198.18.0.6", "198.18.0.7"]
    );
    assert_eq!(set(&["198.18.0.-"]).len(), 256);
    assert_eq!(set(&["198.18.0.*"]), set(&["198.18.0.0/24"]));
    assert_eq!(set(&["198.18.0.250-"]).len(), 6);
    assert_eq!(set(&["198.18.0.-9"]).len(), 10);
    assert_eq!(set(&["198.18.0.0-255"]), set(&["198.18.0.0/24"]));
    assert_eq!(set(&["198.18.0.1,1,1-2"]).len(), 2);
    let mixed = set(&["198.18-19.0,2.1"]);
    assert_eq!(addrs(&mixed), ["198.18.0.1", "198.18.2.1", "198.19.0.1", "198.19.2.1"]);
    assert_eq!(set(&["0-255.0-255.0-255.0-255"]).len(), 1 << 32);
    assert_eq!(set(&["010.0.0.1"]), set(&["10.0.0.1"]));
}

#[test]
fn specs_merge_and_deduplicate() {
    let s = set(&["198.18.0.0/25", "198.18.0.128/25", "198.18.0.5", "198.18.1.0"]);
    assert_eq!(s.ranges().len(), 1);
    assert_eq!(s.len(), 257);
    let s = set(&["198.18.0.9", "198.18.0.1", "198.18.0.5"]);
    assert_eq!(addrs(&s), ["198.18.0.1", "198.18.0.5", "198.18.0.9"]);
    assert!(set(&[]).is_empty());
    assert_eq!(set(&[]).get(0), None);
}

#[test]
fn errors_name_the_token_and_why() {
    assert_eq!(message("198.18.0.300"), "bad target \"198.18.0.300\": octet 300 is larger than 255");
    assert_eq!(message("198.18.0.0/33"), "bad target \"198.18.0.0/33\": prefix length 33 is larger than 32");
    assert_eq!(message("198.18.0.9-3"), "bad target \"198.18.0.9-3\": range 9-3 runs backwards");
    assert_eq!(message("198.18.0"), "bad target \"198.18.0\": expected 4 dot-separated octets, found 3");
    assert_eq!(
        message("198.18.0.1.5"),
        "bad target \"198.18.0.1.5\": expected 4 dot-separated octets, found 5"
    );
    assert_eq!(message("198.18..1"), "bad target \"198.18..1\": empty octet or octet list item");
    assert_eq!(message("198.18.0.1,,2"), "bad target \"198.18.0.1,,2\": empty octet or octet list item");
    assert_eq!(
        message("198.18.0.1-2-3"),
        "bad target \"198.18.0.1-2-3\": \"2-3\" is not an octet number or range"
    );
    assert_eq!(message("1a.18.0.1"), "bad target \"1a.18.0.1\": \"1a\" is not an octet number or range");
    assert_eq!(message("198.18.0.0/x"), "bad target \"198.18.0.0/x\": prefix length \"x\" is not a number");
    assert_eq!(message("198.18.0.0/"), "bad target \"198.18.0.0/\": prefix length \"\" is not a number");
    assert_eq!(
        message("198.18.0.0/99999999999"),
        "bad target \"198.18.0.0/99999999999\": prefix length 99999999999 is larger than 32"
    );
    assert_eq!(message("/24"), "bad target \"/24\": no address before the /prefix");
    assert_eq!(
        message("198.18.0-1.0/24"),
        "bad target \"198.18.0-1.0/24\": octet ranges and lists cannot be combined with a /prefix"
    );
    assert_eq!(message(""), "bad target \"\": empty target");
    assert_eq!(
        message("bad host!"),
        "bad target \"bad host!\": not an address, octet range, CIDR block or hostname"
    );
    assert_eq!(message("-x"), "bad target \"-x\": not an address, octet range, CIDR block or hostname");
    assert_eq!(
        message("198.18.0.99999999999999999999"),
        "bad target \"198.18.0.99999999999999999999\": octet 99999999999999999999 is larger than 255"
    );
}

#[test]
fn hostnames_are_refused_with_no_resolve() {
    assert_eq!(
        message("scanme.test"),
        "cannot resolve \"scanme.test\": hostnames are not resolved with -n; give an address"
    );
    assert!(message("localhost/24").starts_with("cannot resolve \"localhost\""));
}

#[test]
fn hostnames_resolve_once_to_their_first_ipv4_address() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut b = TargetSet::builder().resolver(fake_resolver(calls.clone()));
    b.add("scanme.test").unwrap();
    b.add("SCANME.test/30").unwrap();
    b.exclude("scanme.test").unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(addrs(&b.build()), ["198.18.5.76", "198.18.5.78", "198.18.5.79"]);

    let mut b = TargetSet::builder().resolver(fake_resolver(calls.clone()));
    let err = b.add("empty.test").unwrap_err();
    assert_eq!(err.to_string(), "cannot resolve \"empty.test\": it has no IPv4 or IPv6 address");
    let err = b.add("nosuch.invalid").unwrap_err();
    assert_eq!(err.to_string(), "cannot resolve \"nosuch.invalid\": Name or service not known");
    assert!(matches!(err, TargetError::Resolve { problem: ResolveProblem::Lookup(_), .. }));
}

#[test]
fn numeric_tokens_never_reach_the_resolver() {
    let calls = Arc::new(AtomicUsize::new(0));
    let mut b = TargetSet::builder().resolver(fake_resolver(calls.clone()));
    for spec in ["10.1", "1.2.3.4.5", "1.2.3.4a5.6", "198.18.0.300", "2130706433"] {
        assert!(b.add(spec).is_err(), "{spec}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[test]
fn localhost_resolves_with_the_system_resolver() {
    let mut b = TargetSet::builder();
    b.add("localhost").unwrap();
    let s = b.build();
    assert_eq!(s.len(), 1);
    assert!(s.get(0).unwrap().is_loopback());
}

#[test]
fn too_many_ranges_is_refused_before_allocating() {
    let err = builder().add("0-255.0-255.0-255.1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "target \"0-255.0-255.0-255.1\" needs 16777216 separate address ranges, which would pass \
         scry's limit of 4194304; use CIDR blocks or whole-octet ranges, or split the scan"
    );
    assert_eq!(set(&["0-255.0-255.0-255.0-255"]).ranges().len(), 1);
    assert_eq!(set(&["1-200.0-255.0-255.0-255"]).ranges().len(), 1);
}

#[test]
fn the_range_limit_counts_after_merging_duplicates() {
    let mut b = builder().max_ranges(8);
    for _ in 0..3 {
        b.add("198.18.1-4.1").unwrap();
    }
    b.add("198.18.5-8.1").unwrap();
    let err = b.add("198.18.0.1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "target \"198.18.0.1\" needs 1 separate address ranges, which would pass scry's limit \
         of 8; use CIDR blocks or whole-octet ranges, or split the scan"
    );
    let err = b.exclude("198.18.0-8.1").unwrap_err();
    assert!(matches!(*err_inner(err), TargetError::TooManyRanges { ranges: 9, limit: 8, .. }));
    b.exclude("198.18.1-8.1").unwrap();
    assert!(b.build().is_empty());
}

fn err_inner(err: TargetError) -> Box<TargetError> {
    match err {
        TargetError::Exclude(inner) => inner,
        other => panic!("{other}"),
    }
}

#[test]
fn input_lists_allow_comments_blank_lines_and_several_specs_a_line() {
    let text = "# lab hosts\n198.18.0.1 198.18.0.2\t198.18.0.10-11 # two more\n\n   \r\n198.18.1.0/30\n";
    let mut b = builder();
    b.add_list(text.as_bytes(), "targets.txt").unwrap();
    assert_eq!(b.build().len(), 8);
}

#[test]
fn input_list_errors_name_the_file_and_line() {
    let text = "198.18.0.1\n\n198.18.0.2 198.18.0.300\n";
    let err = builder().add_list(text.as_bytes(), "targets.txt").unwrap_err();
    assert_eq!(
        err.to_string(),
        "-iL targets.txt:3: bad target \"198.18.0.300\": octet 300 is larger than 255"
    );
    let err = builder().exclude_list("host.test\n".as_bytes(), "skip.txt").unwrap_err();
    assert!(err.to_string().starts_with("--excludefile skip.txt:1: cannot resolve \"host.test\""));

    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("disk on fire"))
        }
    }
    let err = builder().add_list(Broken, "-").unwrap_err();
    assert_eq!(err.to_string(), "-iL -: disk on fire");
}

#[test]
fn input_lists_tolerate_invalid_utf8_as_bad_targets() {
    let err = builder().add_list(&b"198.18.0.1\n\xff\xfe\n"[..], "t").unwrap_err();
    assert!(err.to_string().starts_with("-iL t:2: bad target"), "{err}");
}

#[test]
fn exclude_list_splits_on_commas_that_start_a_new_spec() {
    assert_eq!(split_exclude("198.18.0.1,3,198.18.1.0/24"), ["198.18.0.1,3", "198.18.1.0/24"]);
    assert_eq!(split_exclude("198.18.0.1,198.18.0.5"), ["198.18.0.1", "198.18.0.5"]);
    assert_eq!(split_exclude("198.18.1,2.0.5-7,9"), ["198.18.1,2.0.5-7,9"]);
    assert_eq!(split_exclude("198.18.0.1,localhost,host.test"), ["198.18.0.1", "localhost", "host.test"]);
    assert_eq!(split_exclude("10.0.0.0/8,3"), ["10.0.0.0/8", "3"]);
    assert_eq!(split_exclude("198.18.0.1,,198.18.0.2,"), ["198.18.0.1", "198.18.0.2"]);
    assert_eq!(split_exclude(""), Vec::<&str>::new());
}

#[test]
fn exclusions_are_removed() {
    let mut b = builder();
    b.add("198.18.0.0/24").unwrap();
    b.exclude("198.18.0.1,3,198.18.0.128/25").unwrap();
    b.exclude_list("198.18.0.0\n# not this\n198.18.0.127 198.18.9.9\n".as_bytes(), "x").unwrap();
    let s = b.build();
    assert_eq!(s.len(), 256 - 2 - 128 - 2);
    assert!(!s.contains(ip("198.18.0.3")) && !s.contains(ip("198.18.0.200")));
    assert!(s.contains(ip("198.18.0.2")) && s.contains(ip("198.18.0.126")));
    assert_eq!(s.get(0), Some(ip("198.18.0.2")));

    let err = builder().exclude("198.18.0.1,3/24").unwrap_err();
    assert_eq!(
        err.to_string(),
        "--exclude: bad target \"198.18.0.1,3/24\": octet ranges and lists cannot be combined with a /prefix"
    );
    let mut b = builder();
    b.add("198.18.0.5").unwrap();
    b.exclude("0.0.0.0/0").unwrap();
    assert!(b.build().is_empty());
}

#[test]
fn get_index_of_and_contains_agree_across_ranges() {
    let s = set(&["198.18.0.1-3", "198.18.0.10", "255.255.255.254-", "0.0.0.0"]);
    let all: Vec<IpAddr> = s.iter().collect();
    assert_eq!(all.len() as u64, s.len());
    for (i, &a) in all.iter().enumerate() {
        assert_eq!(s.get(i as u64), Some(a));
        assert_eq!(s.index_of(a), Some(i as u64));
    }
    assert_eq!(all.first(), Some(&IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
    assert_eq!(all.last(), Some(&IpAddr::V4(Ipv4Addr::BROADCAST)));
    assert!(!s.contains(ip("198.18.0.4")) && !s.contains(ip("198.18.0.0")));
    assert_eq!(s.get(u64::MAX), None);
    assert_eq!(s.iter().size_hint(), (7, Some(7)));
}

/// An octet spec as per-octet lists of `(lo, hi)` segments.
fn octet_spec() -> impl Strategy<Value = Vec<Vec<(u8, u8)>>> {
    let segment = (0u8..=255, 0u8..4).prop_map(|(lo, span)| (lo, lo.saturating_add(span)));
    prop::collection::vec(prop::collection::vec(segment, 1..3), 4)
}

fn octet_text(spec: &[Vec<(u8, u8)>]) -> String {
    let octet = |segs: &Vec<(u8, u8)>| -> String {
        segs.iter().map(|&(lo, hi)| format!("{lo}-{hi}")).collect::<Vec<_>>().join(",")
    };
    spec.iter().map(octet).collect::<Vec<_>>().join(".")
}

/// A target spec from a small address space, so sets stay small and overlap.
fn small_spec() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..4096, 22u8..=32).prop_map(|(a, len)| format!("{}/{len}", Ipv4Addr::from(0x0a00_0000 | a))),
        (0u8..16, 0u8..255, 0u8..40)
            .prop_map(|(c, d, span)| format!("10.0.{c}.{d}-{}", d.saturating_add(span))),
        (0u8..16, prop::collection::vec(0u8..=255, 1..5)).prop_map(|(c, ds)| {
            format!("10.0.{c}.{}", ds.iter().map(u8::to_string).collect::<Vec<_>>().join(","))
        }),
    ]
}

proptest! {
    #[test]
    fn add_never_panics(spec in "\\PC{0,40}") {
        let _ = builder().add(&spec);
        let _ = builder().exclude(&spec);
    }

    #[test]
    fn add_never_panics_on_address_like_text(spec in "[0-9.,*/-]{0,30}") {
        let _ = builder().add(&spec);
        let _ = builder().exclude(&spec);
    }

    #[test]
    fn lists_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = builder().add_list(bytes.as_slice(), "fuzz");
    }

    #[test]
    fn octet_specs_expand_to_the_cartesian_product(spec in octet_spec()) {
        let values: Vec<BTreeSet<u8>> = spec
            .iter()
            .map(|segs| segs.iter().flat_map(|&(lo, hi)| lo..=hi).collect())
            .collect();
        let mut expected = Vec::new();
        for &a in &values[0] {
            for &b in &values[1] {
                for &c in &values[2] {
                    for &d in &values[3] {
                        expected.push(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
                    }
                }
            }
        }
        let got: Vec<IpAddr> = set(&[&octet_text(&spec)]).iter().collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn set_invariants_hold(
        include in prop::collection::vec(small_spec(), 0..6),
        exclude in prop::collection::vec(small_spec(), 0..4),
    ) {
        let mut b = builder();
        for spec in &include {
            b.add(spec).unwrap();
        }
        for spec in &exclude {
            b.exclude_list(spec.as_bytes(), "x").unwrap();
        }
        let s = b.build();
        let included: BTreeSet<IpAddr> = include.iter().flat_map(|t| set(&[t]).iter().collect::<Vec<_>>()).collect();
        let excluded: BTreeSet<IpAddr> = exclude.iter().flat_map(|t| set(&[t]).iter().collect::<Vec<_>>()).collect();
        let expected: Vec<IpAddr> = included.difference(&excluded).copied().collect();
        let got: Vec<IpAddr> = s.iter().collect();
        prop_assert_eq!(got.len() as u64, s.len());
        prop_assert_eq!(&got, &expected);
        for (i, &a) in got.iter().enumerate() {
            prop_assert_eq!(s.get(i as u64), Some(a));
            prop_assert_eq!(s.index_of(a), Some(i as u64));
        }
        prop_assert!(got.windows(2).all(|w| w[0] < w[1]));
        prop_assert_eq!(s.get(s.len()), None);
        prop_assert!(excluded.iter().all(|&a| !s.contains(a)));
        let ranges: Vec<_> = s.ranges().map(|(a, b)| (u32::from(a), u32::from(b))).collect();
        prop_assert!(ranges.windows(2).all(|w| u64::from(w[0].1) + 1 < u64::from(w[1].0)));
    }
}

#[test]
fn without_removes_only_addresses_in_the_set() {
    let s = set(&["198.19.255.0/24", "198.18.0.1"]);
    let less = s.without(&[v4("198.19.255.255"), v4("198.19.255.0"), v4("198.18.7.7")]);
    assert_eq!(less.len(), s.len() - 2);
    assert!(!less.contains(ip("198.19.255.255")) && !less.contains(ip("198.19.255.0")));
    assert!(less.contains(ip("198.19.255.254")) && less.contains(ip("198.18.0.1")));
    assert_eq!(s.without(&[]).len(), s.len());
}
