//! The scan order is a bijection for every size, fixed by its seed, and its shards partition it.

use proptest::prelude::*;
use scry_probe::permute::{Permutation, Shard, ShardProblem};

/// A bitset over `[0, n)`.
struct Seen(Vec<u64>);

impl Seen {
    fn new(n: u64) -> Seen {
        Seen(vec![0; n.div_ceil(64) as usize])
    }

    /// Marks `i`; false if it was already marked.
    fn insert(&mut self, i: u64) -> bool {
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

/// Walks the whole permutation and checks every index appears exactly once.
fn assert_bijection(n: u64, seed: u64) {
    let p = Permutation::new(n, seed);
    assert_eq!(p.len(), n);
    let mut seen = Seen::new(n);
    for (position, index) in p.iter().enumerate() {
        assert!(index < n, "n={n} seed={seed}: at({position}) = {index} is out of range");
        assert!(seen.insert(index), "n={n} seed={seed}: index {index} visited twice");
    }
    // n marks, none repeated, all below n: every index was visited.
}

fn sizes() -> Vec<u64> {
    let mut sizes = vec![1, 2, 3, 4, 5, 7, 13, 255, 256, 257, 4096, 4097, 65536 * 3];
    sizes.extend([10_007, 65_521, 65_537, 1_000_003]); // primes
    for k in 1..=20 {
        sizes.extend([(1 << k) - 1, 1 << k, (1 << k) + 1]);
    }
    sizes
}

#[test]
fn exhaustive_bijection_for_awkward_sizes() {
    for n in sizes() {
        assert_bijection(n, 0x5ca1_ab1e);
    }
}

#[test]
fn exhaustive_bijection_for_several_seeds() {
    for seed in [0, 1, u64::MAX, 0xdead_beef] {
        for n in [1, 2, 3, 257, 4097, 65537] {
            assert_bijection(n, seed);
        }
    }
}

#[test]
fn empty_permutation_walks_nothing() {
    let p = Permutation::new(0, 7);
    assert!(p.is_empty());
    assert_eq!(p.iter().count(), 0);
    assert_eq!(p.positions(Shard::new(1, 3).unwrap()), 0..0);
}

#[test]
fn domain_is_below_twice_n() {
    for n in sizes().into_iter().chain([1 << 40, (1 << 40) + 1, u64::MAX]) {
        let domain = 1u128 << Permutation::new(n, 1).domain_bits();
        assert!(domain >= u128::from(n) && (domain < 2 * u128::from(n) || domain == 4), "n={n}");
    }
}

#[test]
fn same_seed_same_order_and_other_seeds_differ() {
    let n = 10_000;
    let order = |seed| Permutation::new(n, seed).iter().collect::<Vec<_>>();
    assert_eq!(order(42), order(42));
    let orders: Vec<_> = (0..8).map(order).collect();
    for (a, first) in orders.iter().enumerate() {
        for second in &orders[a + 1..] {
            let same = first.iter().zip(second).filter(|(x, y)| x == y).count();
            // Two unrelated orders agree at about one position in n.
            assert!(same < 10, "seeds agree at {same} of {n} positions");
        }
    }
}

#[test]
fn first_index_is_spread_over_seeds() {
    let (n, seeds) = (10u64, 20_000u64);
    let mut bins = [0u32; 10];
    for seed in 0..seeds {
        bins[Permutation::new(n, seed).at(0) as usize] += 1;
    }
    // Expect 2000 each; 1700..2300 is beyond 6 standard deviations.
    assert!(bins.iter().all(|&b| (1700..2300).contains(&b)), "{bins:?}");
}

#[test]
fn consecutive_positions_are_spread() {
    let n = 1u64 << 16;
    let p = Permutation::new(n, 2024);
    let walk: Vec<u64> = p.iter().collect();
    let pairs = walk.windows(2);
    let rising = pairs.clone().filter(|w| w[1] > w[0]).count() as f64 / (n - 1) as f64;
    let mean_gap = pairs.map(|w| w[0].abs_diff(w[1]) as f64).sum::<f64>() / (n - 1) as f64;
    // A random order rises half the time and jumps n/3 on average.
    assert!((0.48..0.52).contains(&rising), "rising fraction {rising}");
    assert!((0.3..0.37).contains(&(mean_gap / n as f64)), "mean gap {mean_gap}");
    // Consecutive probes land in the same 256-index block (a /24) about once in 256, as by chance.
    let clumped = walk.windows(2).filter(|w| w[0] >> 8 == w[1] >> 8).count();
    assert!(clumped < 600, "{clumped} consecutive probes in the same 256-block (expect ~256)");
}

#[test]
fn huge_permutation_spot_check() {
    let n = 1u64 << 40;
    let p = Permutation::new(n, 9);
    let mut seen = std::collections::HashSet::new();
    for position in (0..100_000).chain(n - 1000..n) {
        let index = p.at(position);
        assert!(index < n);
        assert!(seen.insert(index), "index {index} repeated");
        assert_eq!(p.position_of(index), position);
    }
}

#[test]
fn full_u64_range_works() {
    let p = Permutation::new(u64::MAX, 3);
    for position in [0, 1, u64::MAX / 2, u64::MAX - 1] {
        assert_eq!(p.position_of(p.at(position)), position);
    }
}

#[test]
fn shards_partition_the_walk() {
    for n in [0, 1, 2, 3, 5, 7, 13, 257, 1000, 4097] {
        let p = Permutation::new(n, 11);
        for count in [1, 2, 3, 4, 7] {
            let mut seen = Seen::new(n);
            let mut visited = 0;
            let mut next_start = 0;
            for number in 0..count {
                let range = p.positions(Shard::new(number, count).unwrap());
                assert_eq!(range.start, next_start, "shards tile the positions in order");
                assert!(range.end - range.start <= n / count + 1, "n={n} {number}/{count}: {range:?}");
                next_start = range.end;
                for index in p.walk(range) {
                    assert!(seen.insert(index), "n={n} shard {number}/{count} repeats {index}");
                    visited += 1;
                }
            }
            assert_eq!((next_start, visited), (n, n), "n={n} count={count}");
        }
    }
}

#[test]
fn shard_text_is_zero_based() {
    let shard: Shard = "0/4".parse().unwrap();
    assert_eq!((shard.number(), shard.count()), (0, 4));
    assert_eq!(shard.to_string(), "0/4");
    assert_eq!(" 3/4 ".parse::<Shard>().unwrap(), Shard::new(3, 4).unwrap());
    assert_eq!("0/1".parse::<Shard>().unwrap(), Shard::ALL);
    assert_eq!(Shard::new(0, 2).unwrap().slice(10..20), 10..15);
    assert_eq!(Shard::new(1, 2).unwrap().slice(10..20), 15..20);
}

#[test]
fn bad_shards_name_the_text() {
    let cases = [
        (
            "5/4",
            "bad shard \"5/4\": shards are numbered from 0, so shard 5 of 4 does not exist (the last is 3/4)",
        ),
        (
            "4/4",
            "bad shard \"4/4\": shards are numbered from 0, so shard 4 of 4 does not exist (the last is 3/4)",
        ),
        ("1/0", "bad shard \"1/0\": the shard count must be at least 1"),
        ("3", "bad shard \"3\": expected I/N, e.g. 0/4 for the first of four shards"),
        ("a/4", "bad shard \"a/4\": \"a\" is not a whole number"),
        ("+1/4", "bad shard \"+1/4\": \"+1\" is not a whole number"),
        ("1/2/3", "bad shard \"1/2/3\": \"2/3\" is not a whole number"),
    ];
    for (text, message) in cases {
        assert_eq!(text.parse::<Shard>().unwrap_err().to_string(), message);
    }
    assert_eq!(Shard::new(2, 2).unwrap_err().problem, ShardProblem::AboveCount { number: 2, count: 2 });
}

#[test]
fn walk_remaining_is_a_resume_point() {
    let p = Permutation::new(1000, 5);
    let mut walk = p.walk(100..200);
    let first: Vec<u64> = walk.by_ref().take(30).collect();
    assert_eq!(walk.remaining(), 130..200);
    let rest: Vec<u64> = p.walk(walk.remaining()).collect();
    assert_eq!([first, rest].concat(), p.walk(100..200).collect::<Vec<_>>());
    assert_eq!(p.walk(0..1000).nth(500), Some(p.at(500)));
}

proptest! {
    #[test]
    fn at_and_position_of_are_inverse(n in 1u64.., seed: u64, pick: u64) {
        let p = Permutation::new(n, seed);
        let position = pick % n;
        let index = p.at(position);
        prop_assert!(index < n);
        prop_assert_eq!(p.position_of(index), position);
    }

    #[test]
    fn small_sizes_are_bijections(n in 1u64..3000, seed: u64) {
        let p = Permutation::new(n, seed);
        let mut seen = Seen::new(n);
        for index in p.iter() {
            prop_assert!(index < n && seen.insert(index));
        }
    }

    #[test]
    fn shard_slices_tile_any_range(start in 0u64..1 << 62, len in 0u64..1 << 62, count in 1u64..100) {
        let mut next = start;
        for number in 0..count {
            let slice = Shard::new(number, count).unwrap().slice(start..start + len);
            prop_assert_eq!(slice.start, next);
            prop_assert!(slice.end - slice.start <= len / count + 1);
            next = slice.end;
        }
        prop_assert_eq!(next, start + len);
    }
}
