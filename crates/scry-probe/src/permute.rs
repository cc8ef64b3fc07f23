//! The scan order: a seeded pseudo-random bijection over `[0, n)`, and shards of it.
//!
//! Position `i` of the walk maps to target index [`Permutation::at`]`(i)`; every
//! index in `[0, n)` appears exactly once as `i` runs over `[0, n)`, in an order
//! fixed by the seed. Nothing is stored per target, any position is computed
//! directly, and so a shard, a resume point or a sending thread is just a range
//! of positions. Works for every `n` a `u64` holds.
//!
//! The bijection is a four-round Feistel network on the smallest bit width `w`
//! covering `n` (halves of `ceil(w/2)` and `floor(w/2)` bits), restricted to
//! `[0, n)` by cycle walking: encrypt, and while the result is `>= n` encrypt
//! again. This is Black and Rogaway, "Ciphers with Arbitrary Finite Domains"
//! (CT-RSA 2002), the paper masscan's BlackRock cites. As `2^w < 2n` (n > 2), a
//! position costs fewer than two Feistel evaluations on average. zmap instead
//! walks a multiplicative cyclic group modulo a prime; that walk is sequential
//! (position `i` costs a modular exponentiation), whereas a Feistel network
//! gives random access, which is what makes shards and resume plain ranges.
//!
//! The order is meant to spread probes across targets, not to hide the scan
//! from an observer: the round function is a fast mixer, not a PRF. Below
//! about 2^10 targets, four rounds on such narrow halves mix less thoroughly;
//! the order is still a seeded bijection, which is all a small scan needs.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// Feistel rounds; four make a strong pseudo-random permutation when the round
/// function is pseudo-random (Luby–Rackoff). Must be even.
const ROUNDS: usize = 4;

/// A seeded pseudo-random ordering of `[0, n)`, computed per position in O(1) memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permutation {
    n: u64,
    /// Width of the high half `l`, `ceil(w / 2)`.
    hi_bits: u32,
    /// Width of the low half `r`, `floor(w / 2)`; always at least 1.
    lo_bits: u32,
    /// Per round: a key xored into the half, and an odd multiplier.
    keys: [(u64, u64); ROUNDS],
}

impl Permutation {
    /// The ordering of `[0, n)` chosen by `seed`; the same seed always gives the same order.
    pub fn new(n: u64, seed: u64) -> Permutation {
        // Widths of at least 2 keep both halves non-empty; n <= 4 then walks a 4-element domain.
        let width = (u64::BITS - n.saturating_sub(1).leading_zeros()).max(2);
        let mut state = seed;
        let keys = [(); ROUNDS].map(|()| (splitmix64(&mut state), splitmix64(&mut state) | 1));
        Permutation { n, hi_bits: width.div_ceil(2), lo_bits: width / 2, keys }
    }

    /// Number of positions (and of indexes).
    pub fn len(&self) -> u64 {
        self.n
    }

    /// True for the empty ordering (`n == 0`).
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Bit width of the Feistel domain; a position costs `2^bits / n` (< 2) evaluations on average.
    pub fn domain_bits(&self) -> u32 {
        self.hi_bits + self.lo_bits
    }

    /// The index visited at `position` of the walk.
    ///
    /// # Panics
    /// When `position >= self.len()`.
    #[inline]
    pub fn at(&self, position: u64) -> u64 {
        assert!(position < self.n, "position {position} is outside a permutation of {}", self.n);
        // Cycle walking terminates: the cycle through `position` returns to it, which is < n.
        let mut x = self.encrypt(position);
        while x >= self.n {
            x = self.encrypt(x);
        }
        x
    }

    /// The position at which `index` is visited: the inverse of [`Permutation::at`].
    ///
    /// # Panics
    /// When `index >= self.len()`.
    pub fn position_of(&self, index: u64) -> u64 {
        assert!(index < self.n, "index {index} is outside a permutation of {}", self.n);
        let mut x = self.decrypt(index);
        while x >= self.n {
            x = self.decrypt(x);
        }
        x
    }

    /// The indexes visited at `positions`, in walk order.
    ///
    /// # Panics
    /// When the range reaches past `self.len()`.
    pub fn walk(&self, positions: Range<u64>) -> Walk<'_> {
        assert!(positions.end <= self.n || positions.is_empty(), "walk past {}: {positions:?}", self.n);
        Walk { permutation: self, positions }
    }

    /// The whole walk.
    pub fn iter(&self) -> Walk<'_> {
        self.walk(0..self.n)
    }

    /// The positions `shard` covers; see [`Shard`].
    pub fn positions(&self, shard: Shard) -> Range<u64> {
        shard.slice(0..self.n)
    }

    /// One Feistel evaluation on the `w`-bit domain, written without swapping
    /// halves: round pairs update `l` from `r`, then `r` from `l`.
    #[inline(always)]
    fn encrypt(&self, x: u64) -> u64 {
        let lo_mask = u64::MAX >> (u64::BITS - self.lo_bits);
        let (mut l, mut r) = (x >> self.lo_bits, x & lo_mask);
        for pair in self.keys.chunks_exact(2) {
            l ^= round(r, pair[0], self.hi_bits);
            r ^= round(l, pair[1], self.lo_bits);
        }
        (l << self.lo_bits) | r
    }

    fn decrypt(&self, x: u64) -> u64 {
        let lo_mask = u64::MAX >> (u64::BITS - self.lo_bits);
        let (mut l, mut r) = (x >> self.lo_bits, x & lo_mask);
        for pair in self.keys.rchunks_exact(2) {
            r ^= round(l, pair[1], self.lo_bits);
            l ^= round(r, pair[0], self.hi_bits);
        }
        (l << self.lo_bits) | r
    }
}

/// The round function: a keyed multiply, an xor-shift and a second multiply
/// (the shape of MurmurHash3's finalizer), keeping the top `out_bits`. A lone
/// multiply-shift is cheaper but its output differences barely depend on the
/// input, so four rounds of it stay visibly non-random (at 16 bits, flipping one
/// input bit flipped some output bit with a probability 9 points away from
/// 50%); this form measures as close to 50% as SipHash does in its place.
#[inline(always)]
fn round(half: u64, (key, multiplier): (u64, u64), out_bits: u32) -> u64 {
    let y = (half ^ key).wrapping_mul(multiplier);
    let y = (y ^ (y >> 32)).wrapping_mul(0xd6e8_feb8_6659_fd93);
    y >> (u64::BITS - out_bits)
}

/// SplitMix64 (Steele, Lea and Flood), used only to expand the seed into round keys.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Iterator over the indexes at a range of positions; see [`Permutation::walk`].
#[derive(Clone, Debug)]
pub struct Walk<'a> {
    permutation: &'a Permutation,
    positions: Range<u64>,
}

impl Walk<'_> {
    /// The positions not yet visited: save `remaining().start` to resume.
    pub fn remaining(&self) -> Range<u64> {
        self.positions.clone()
    }
}

impl Iterator for Walk<'_> {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        self.positions.next().map(|p| self.permutation.at(p))
    }

    fn nth(&mut self, skip: usize) -> Option<u64> {
        self.positions.nth(skip).map(|p| self.permutation.at(p))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.positions.size_hint()
    }
}

/// One of `count` disjoint parts of a scan, numbered from 0 as in zmap's
/// `--shard`: `--shard 0/4` is the first of four.
///
/// Run every shard `0/N` ... `N-1/N` with the same seed (on one machine or many)
/// and together they probe each target exactly once. Shard `k/N` is the
/// contiguous `k`-th slice (counting from 0) of the walk's positions; slices differ in size by at
/// most one. Contiguous rather than interleaved (masscan steps by `N`) because
/// the walk is already pseudo-random, so a slice is as spread over targets as a
/// stride, and slices compose: a shard, a thread within it and a resume point
/// are all ranges, cut again with [`Shard::slice`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shard {
    number: u64,
    count: u64,
}

impl Shard {
    /// The whole scan, `0/1`.
    pub const ALL: Shard = Shard { number: 0, count: 1 };

    /// Shard `number` of `count`, numbered from 0.
    ///
    /// # Errors
    /// When `count` is zero or `number` is not below `count`.
    pub fn new(number: u64, count: u64) -> Result<Shard, ShardError> {
        let problem = if count == 0 {
            ShardProblem::ZeroCount
        } else if number >= count {
            ShardProblem::AboveCount { number, count }
        } else {
            return Ok(Shard { number, count });
        };
        Err(ShardError { text: format!("{number}/{count}"), problem })
    }

    /// This shard's number, from 0 to [`Shard::count`] - 1.
    pub fn number(&self) -> u64 {
        self.number
    }

    /// How many shards the scan is cut into.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// This shard's balanced slice of `range`: slice `k` of `N` is
    /// `start + len*k/N .. start + len*(k+1)/N`.
    pub fn slice(&self, range: Range<u64>) -> Range<u64> {
        let len = u128::from(range.end.saturating_sub(range.start));
        // len * k / N <= len, so the casts back cannot truncate.
        let cut = |k: u64| range.start + (len * u128::from(k) / u128::from(self.count)) as u64;
        cut(self.number)..cut(self.number + 1)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.number, self.count)
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    /// Parses `I/N` (0-based, e.g. `0/4`); surrounding whitespace is ignored.
    fn from_str(text: &str) -> Result<Shard, ShardError> {
        let fail = |problem| ShardError { text: text.to_string(), problem };
        let (number, count) = text.trim().split_once('/').ok_or_else(|| fail(ShardProblem::Syntax))?;
        let parse = |part: &str| {
            let part = part.trim();
            match part.parse::<u64>() {
                Ok(value) if part.bytes().all(|b| b.is_ascii_digit()) => Ok(value),
                _ => Err(fail(ShardProblem::NotANumber(part.to_string()))),
            }
        };
        let (number, count) = (parse(number)?, parse(count)?);
        Shard::new(number, count).map_err(|e| fail(e.problem))
    }
}

/// A shard that could not be parsed or built, with the text as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad shard {text:?}: {problem}")]
pub struct ShardError {
    pub text: String,
    pub problem: ShardProblem,
}

/// What is wrong with a shard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardProblem {
    #[error("expected I/N, e.g. 0/4 for the first of four shards")]
    Syntax,
    #[error("{0:?} is not a whole number")]
    NotANumber(String),
    #[error("the shard count must be at least 1")]
    ZeroCount,
    #[error("shards are numbered from 0, so shard {number} of {count} does not exist (the last is {}/{count})", count - 1)]
    AboveCount { number: u64, count: u64 },
}
