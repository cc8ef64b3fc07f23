//! nmap's OS matching: score a subject against every reference and rank.
//!
//! The rules are those of nmap 7.93's `compare_fingerprints` and
//! `match_fingerprint` (osscan.cc), described in the Nmap book section "OS
//! Matching Algorithms":
//!
//! * For each test present in both subject and reference, and each attribute
//!   present in both, the attribute's MatchPoints weight is added to the
//!   possible points, and to the matched points when the subject value
//!   satisfies the reference expression. Attributes (or tests) the
//!   MatchPoints block does not score count for nothing. Accuracy is
//!   matched / possible (0 when nothing was comparable).
//! * A reference enters the result list when its accuracy is at least the
//!   threshold (0.85, `OSSCAN_GUESS_THRESHOLD`) or exactly 1.
//! * Only one entry per OS name is kept: the first one with the highest
//!   accuracy.
//! * The list is sorted by accuracy, ties in database order, and holds at
//!   most 36 entries (`MAX_FP_RESULTS`); once full, a newcomer must beat the
//!   last entry by 0.00001.
//! * A 37th distinct perfect match stops matching with "too many matches".
//!
//! A subject test that appears twice counts only once (the first), as does
//! a repeated attribute: nmap sorts both and walks them pairwise.

use std::sync::Arc;

use crate::db::{Database, Item, OsClass, Reference};
use crate::expr::{Dialect, Value};
use crate::subject::{SubjectFingerprint, SubjectTest};

#[cfg(test)]
mod tests;

/// nmap's `OSSCAN_GUESS_THRESHOLD`: lowest accuracy that is listed at all.
pub const GUESS_THRESHOLD: f64 = 0.85;

/// nmap's `MAX_FP_RESULTS`: most entries in a result list.
pub const MAX_MATCHES: usize = 36;

/// How the subject compares to the database as a whole (nmap's
/// `OSSCAN_SUCCESS`, `OSSCAN_NOMATCHES`, `OSSCAN_TOOMANYMATCHES`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchStatus {
    /// At least one reference reached the threshold.
    Success,
    /// No reference reached the threshold.
    NoMatches,
    /// More than [`MAX_MATCHES`] distinct references match perfectly.
    TooManyMatches,
}

/// One ranked reference.
#[derive(Clone, Debug, PartialEq)]
pub struct OsMatch {
    /// Index into [`Database::references`].
    pub index: usize,
    /// The reference's OS name.
    pub name: Arc<str>,
    /// Line of its `Fingerprint` line.
    pub line: usize,
    /// matched / possible points.
    pub accuracy: f64,
    /// Points matched.
    pub matched_points: u32,
    /// Points possible.
    pub possible_points: u32,
    /// Its classifications.
    pub classes: Arc<[OsClass]>,
}

impl OsMatch {
    /// Accuracy as nmap prints it: `floor(accuracy * 100)`.
    pub fn percent(&self) -> u32 {
        percent(self.accuracy)
    }

    /// Whether this is a perfect (100%) match.
    pub fn is_perfect(&self) -> bool {
        self.accuracy == 1.0
    }
}

/// `floor(accuracy * 100)`, as nmap's `%.f` of `floor()` and `(int)` print it.
pub fn percent(accuracy: f64) -> u32 {
    // Accuracy is within [0, 1], so this cannot truncate.
    (accuracy * 100.0).floor() as u32
}

/// The outcome of matching one subject.
#[derive(Clone, Debug, PartialEq)]
pub struct OsResult {
    /// Overall status.
    pub status: MatchStatus,
    /// Ranked matches, best first, at most [`MAX_MATCHES`].
    pub matches: Vec<OsMatch>,
    /// How many leading entries of `matches` are perfect.
    pub perfect: usize,
}

impl OsResult {
    /// The best match, if any.
    pub fn best(&self) -> Option<&OsMatch> {
        self.matches.first()
    }

    /// The perfect (100%) matches, best first.
    pub fn perfect_matches(&self) -> &[OsMatch] {
        &self.matches[..self.perfect]
    }
}

/// Matching options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchOptions {
    /// Lowest accuracy listed (nmap: 0.85).
    pub threshold: f64,
    /// Whose rules to follow.
    pub dialect: Dialect,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions { threshold: GUESS_THRESHOLD, dialect: Dialect::Nmap793 }
    }
}

/// How well one OS family's references match a subject with few tests.
#[derive(Clone, Debug, PartialEq)]
pub struct FamilyScore {
    /// The class's vendor and family, e.g. `Linux`/`Linux`, `Apple`/`iOS`.
    pub vendor: String,
    pub family: String,
    /// The best accuracy any reference of the family reaches.
    pub accuracy: f64,
    /// How many of the family's references reach its whole percent.
    pub references: u32,
}

impl FamilyScore {
    /// The accuracy as nmap prints it, [`percent`].
    pub fn percent(&self) -> u32 {
        percent(self.accuracy)
    }
}

/// Points scored by one reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Score {
    /// Points matched.
    pub matched: u32,
    /// Points possible.
    pub possible: u32,
}

impl Score {
    /// matched / possible, or 0 when nothing was comparable.
    pub fn accuracy(&self) -> f64 {
        if self.possible == 0 {
            0.0
        } else {
            f64::from(self.matched) / f64::from(self.possible)
        }
    }
}

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const MISS: u8 = 2;
const HIT: u8 = 3;

/// A subject compiled against one database: a value per slot, and a memo of
/// each `(slot, expression)` verdict so shared expressions run once.
struct Compiled<'a> {
    db: &'a Database,
    dialect: Dialect,
    values: Vec<Option<Value>>,
    memo: Vec<u8>,
}

impl Compiled<'_> {
    #[inline]
    fn state(&mut self, pair: u32) -> u8 {
        let cached = self.memo[pair as usize];
        if cached != UNKNOWN {
            return cached;
        }
        let p = self.db.pairs[pair as usize];
        let state = match &self.values[p.slot as usize] {
            None => ABSENT,
            Some(v) if self.db.exprs[p.expr as usize].matches(v, self.dialect) => HIT,
            Some(_) => MISS,
        };
        self.memo[pair as usize] = state;
        state
    }

    /// Scores one reference; `None` once its mismatches exceed `max_miss`.
    fn score(&mut self, items: (&[Item], &[Item]), max_miss: f64) -> Option<Score> {
        let mut score = Score { matched: 0, possible: 0 };
        // Missed points may grow up to this integer before giving up.
        let budget = if max_miss >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            // Below u32::MAX here; a negative bound saturates to 0 (any miss rejects).
            max_miss.floor() as u32
        };
        for part in [items.0, items.1] {
            for item in part {
                match self.state(item.pair) {
                    HIT => {
                        score.matched += item.points;
                        score.possible += item.points;
                    }
                    MISS => {
                        score.possible += item.points;
                        if score.possible - score.matched > budget {
                            return None;
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(score)
    }
}

/// Scores subjects against a [`Database`].
#[derive(Clone, Copy, Debug)]
pub struct Matcher<'db> {
    db: &'db Database,
    options: MatchOptions,
}

impl<'db> Matcher<'db> {
    /// A matcher with nmap 7.93's defaults.
    pub fn new(db: &'db Database) -> Matcher<'db> {
        Matcher::with_options(db, MatchOptions::default())
    }

    /// A matcher with explicit options.
    pub fn with_options(db: &'db Database, options: MatchOptions) -> Matcher<'db> {
        Matcher { db, options }
    }

    /// The options in use.
    pub fn options(&self) -> MatchOptions {
        self.options
    }

    fn compile(&self, subject: &SubjectFingerprint) -> Compiled<'db> {
        let schema = &self.db.schema;
        let mut values: Vec<Option<Value>> = vec![None; schema.len()];
        let mut seen_tests: Vec<usize> = Vec::with_capacity(subject.tests.len());
        for test in &subject.tests {
            let Some(t) = schema.test_position(&test.name) else { continue };
            if seen_tests.contains(&t) {
                continue;
            }
            seen_tests.push(t);
            for (attr, value) in &test.attrs {
                if let Some(slot) = schema.lookup_attr(t, attr) {
                    let v = &mut values[slot as usize];
                    if v.is_none() {
                        *v = Some(Value::new(value));
                    }
                }
            }
        }
        Compiled {
            db: self.db,
            dialect: self.options.dialect,
            values,
            memo: vec![UNKNOWN; self.db.pairs.len()],
        }
    }

    /// The points one reference scores against `subject`.
    pub fn score(&self, subject: &SubjectFingerprint, reference: &Reference) -> Score {
        let implied = self.options.dialect == Dialect::Modern;
        let items = self.db.items_of(reference, implied);
        self.compile(subject).score(items, f64::INFINITY).unwrap_or(Score { matched: 0, possible: 0 })
    }

    /// Matches `subject` against every reference, as nmap does.
    pub fn match_subject(&self, subject: &SubjectFingerprint) -> OsResult {
        let mut compiled = self.compile(subject);
        let implied = self.options.dialect == Dialect::Modern;
        let mut list: Vec<OsMatch> = Vec::with_capacity(MAX_MATCHES + 1);
        let mut requirement = self.options.threshold;
        let mut perfect = 0;
        for (index, reference) in self.db.refs.iter().enumerate() {
            let total = f64::from(self.db.total_points(reference, implied));
            // Past this many missed points the accuracy is surely below the
            // requirement (the margin keeps rounding from rejecting a tie).
            let max_miss = (1.0 - requirement) * total + 1e-6;
            let Some(score) = compiled.score(self.db.items_of(reference, implied), max_miss) else {
                continue;
            };
            let acc = score.accuracy();
            if !(acc >= requirement || acc == 1.0) {
                continue;
            }
            if let Some(pos) = list.iter().position(|m| *m.name == *reference.name()) {
                if list[pos].accuracy >= acc {
                    continue;
                }
                list.remove(pos);
            }
            if acc == 1.0 {
                if perfect == MAX_MATCHES {
                    return OsResult { status: MatchStatus::TooManyMatches, matches: list, perfect };
                }
                perfect += 1;
            }
            let at = list.iter().position(|m| m.accuracy < acc).unwrap_or(list.len());
            list.insert(
                at,
                OsMatch {
                    index,
                    name: reference.name_arc().clone(),
                    line: reference.line(),
                    accuracy: acc,
                    matched_points: score.matched,
                    possible_points: score.possible,
                    classes: reference.classes().clone(),
                },
            );
            list.truncate(MAX_MATCHES);
            if list.len() == MAX_MATCHES {
                requirement = list[MAX_MATCHES - 1].accuracy + 0.00001;
            }
        }
        let status = if list.is_empty() { MatchStatus::NoMatches } else { MatchStatus::Success };
        OsResult { status, matches: list, perfect }
    }

    /// Every OS family (class vendor and family) with its best accuracy
    /// and the number of its references reaching that accuracy's whole
    /// percent; best percent first, then most references, then best
    /// accuracy, then database order. For a subject with so few tests that
    /// many references match perfectly (one SYN-ACK's), where
    /// [`Matcher::match_subject`]'s list in database order says little and
    /// may stop at "too many matches".
    ///
    /// Families are compared on whole percents, as nmap prints accuracies,
    /// because with so few tests a difference below one point comes from
    /// references that carry different attributes (one without `TI` has
    /// fewer possible points), not from a closer fit; the number of
    /// references at that level is the better evidence.
    pub fn families(&self, subject: &SubjectFingerprint) -> Vec<FamilyScore> {
        let mut compiled = self.compile(subject);
        let implied = self.options.dialect == Dialect::Modern;
        let mut out: Vec<FamilyScore> = Vec::new();
        for reference in &self.db.refs {
            let items = self.db.items_of(reference, implied);
            let Some(score) = compiled.score(items, f64::INFINITY) else { continue };
            let acc = score.accuracy();
            let mut seen: Vec<(&str, &str)> = Vec::new();
            for class in reference.classes().iter() {
                let key = (class.vendor.as_str(), class.family.as_str());
                if seen.contains(&key) {
                    continue;
                }
                seen.push(key);
                match out.iter_mut().find(|f| f.vendor == key.0 && f.family == key.1) {
                    Some(f) if percent(acc) > f.percent() => (f.accuracy, f.references) = (acc, 1),
                    Some(f) if percent(acc) == f.percent() => {
                        f.references += 1;
                        f.accuracy = f.accuracy.max(acc);
                    }
                    Some(_) => {}
                    None => out.push(FamilyScore {
                        vendor: key.0.to_owned(),
                        family: key.1.to_owned(),
                        accuracy: acc,
                        references: 1,
                    }),
                }
            }
        }
        // A stable sort keeps database order among equals.
        out.sort_by(|a, b| {
            b.percent()
                .cmp(&a.percent())
                .then(b.references.cmp(&a.references))
                .then(b.accuracy.total_cmp(&a.accuracy))
        });
        out
    }

    /// A subject that satisfies every expression of `reference` under this
    /// matcher's dialect (so it scores 100% against it), or `None` if some
    /// expression has no obvious satisfying value.
    pub fn example_subject(&self, reference: &Reference) -> Option<SubjectFingerprint> {
        let mut fp = SubjectFingerprint::default();
        for (test, attrs) in self.db.tests_of(reference) {
            let mut t = SubjectTest::new(test, Vec::<(String, String)>::new());
            for (attr, expr) in attrs {
                t.attrs.push((attr.to_owned(), expr.example(self.options.dialect)?));
            }
            let needs_r = self.options.dialect == Dialect::Modern
                && self.db.points(test, "R") > 0
                && t.get("R").is_none();
            if needs_r {
                let r = if t.attrs.is_empty() { "N" } else { "Y" };
                t.attrs.insert(0, ("R".to_owned(), r.to_owned()));
            }
            fp.tests.push(t);
        }
        Some(fp)
    }
}
