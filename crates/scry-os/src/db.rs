//! The reference fingerprint database: loading, merging and compiling.
//!
//! Files in nmap's `nmap-os-db` format (Nmap book, "Understanding an Nmap
//! Fingerprint") are parsed by a [`DatabaseBuilder`] and compiled into an
//! immutable [`Database`]: names are interned to slots ([`crate::schema`]),
//! each distinct expression is parsed once, and every reference becomes a
//! contiguous run of `(slot, expression, points)` items so scoring touches
//! no strings. Loading never panics; every problem is a [`DbError`].

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::error::DbError;
use crate::expr::Expr;
use crate::schema::{Schema, Slot};

mod parse;
#[cfg(test)]
mod tests;

/// A `Class vendor | family | generation | device type` line and its CPEs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OsClass {
    /// e.g. `Linux`, `Microsoft`.
    pub vendor: String,
    /// e.g. `Linux`, `Windows`.
    pub family: String,
    /// e.g. `2.6.X`; `None` when the field is empty.
    pub generation: Option<String>,
    /// e.g. `general purpose`, `WAP`.
    #[serde(rename = "type")]
    pub device_type: String,
    /// The `CPE` lines that follow the class, in order.
    #[serde(skip)]
    pub cpe: Vec<Cpe>,
}

/// A `CPE cpe:/... [auto]` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cpe {
    /// The CPE name, e.g. `cpe:/o:linux:linux_kernel:2.6`.
    pub name: String,
    /// Whether the line carried the `auto` flag (generated, not hand-written).
    pub auto: bool,
}

/// One reference fingerprint (a `Fingerprint` entry).
#[derive(Clone, Debug)]
pub struct Reference {
    name: Arc<str>,
    source: u32,
    line: u32,
    classes: Arc<[OsClass]>,
    tests: Range<u32>,
    items: Range<u32>,
    implied: Range<u32>,
    total: u32,
    total_implied: u32,
}

impl Reference {
    /// The OS name from the `Fingerprint` line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shared OS name.
    pub fn name_arc(&self) -> &Arc<str> {
        &self.name
    }

    /// 1-based line of the `Fingerprint` line in its file.
    pub fn line(&self) -> usize {
        self.line as usize
    }

    /// The classifications, in file order.
    pub fn classes(&self) -> &Arc<[OsClass]> {
        &self.classes
    }
}

/// One test line of a reference: its name and `(attribute, expression)` pairs.
#[derive(Clone, Debug)]
pub(crate) struct TestSpan {
    pub(crate) test: u32,
    pub(crate) attrs: Range<u32>,
}

/// A `(slot, expression)` pair shared by every reference that uses it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pair {
    pub(crate) slot: Slot,
    pub(crate) expr: u32,
}

/// One scored attribute of a reference.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Item {
    pub(crate) pair: u32,
    pub(crate) points: u32,
}

/// Parsed files, not yet compiled.
#[derive(Debug, Default)]
pub struct DatabaseBuilder {
    pub(crate) schema: Schema,
    pub(crate) sources: Vec<PathBuf>,
    pub(crate) match_points: Option<parse::MatchPoints>,
    pub(crate) refs: Vec<parse::RawReference>,
    pub(crate) test_spans: Vec<TestSpan>,
    pub(crate) attrs: Vec<u32>,
    pub(crate) exprs: Vec<Arc<Expr>>,
    expr_index: [HashMap<Box<str>, u32>; 2],
    pub(crate) pairs: Vec<Pair>,
    pair_index: HashMap<(Slot, u32), u32>,
}

impl DatabaseBuilder {
    /// An empty builder.
    pub fn new() -> DatabaseBuilder {
        DatabaseBuilder::default()
    }

    /// Reads and parses one file.
    ///
    /// # Errors
    /// [`DbError::Io`] if it cannot be read, otherwise as [`DatabaseBuilder::add_str`].
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self, DbError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| DbError::Io { path: path.to_owned(), source })?;
        let text = String::from_utf8_lossy(&bytes);
        self.add_str(path, &text)
    }

    /// Parses database text; `path` is only used to name it in errors.
    ///
    /// # Errors
    /// [`DbError::Syntax`] for the first malformed line, or
    /// [`DbError::DuplicateMatchPoints`].
    pub fn add_str(&mut self, path: impl AsRef<Path>, text: &str) -> Result<&mut Self, DbError> {
        self.sources.push(path.as_ref().to_owned());
        parse::parse_text(self, self.sources.len() - 1, text)?;
        Ok(self)
    }

    /// Interns an expression, parsing it the first time it is seen.
    pub(crate) fn intern_expr(&mut self, source: &str, nested: bool) -> Result<u32, crate::expr::ExprError> {
        let map = &mut self.expr_index[usize::from(nested)];
        if let Some(&id) = map.get(source) {
            return Ok(id);
        }
        let expr = Expr::parse(source, nested)?;
        let id = u32::try_from(self.exprs.len()).unwrap_or(u32::MAX);
        self.exprs.push(Arc::new(expr));
        map.insert(source.into(), id);
        Ok(id)
    }

    /// Interns a `(slot, expression)` pair.
    pub(crate) fn intern_pair(&mut self, slot: Slot, expr: u32) -> u32 {
        let next = u32::try_from(self.pairs.len()).unwrap_or(u32::MAX);
        let id = *self.pair_index.entry((slot, expr)).or_insert(next);
        if id == next {
            self.pairs.push(Pair { slot, expr });
        }
        id
    }

    /// Compiles everything added so far.
    ///
    /// # Errors
    /// [`DbError::MissingMatchPoints`] when no file had a `MatchPoints` block.
    pub fn build(mut self) -> Result<Database, DbError> {
        let Some(mp) = self.match_points.take() else {
            return Err(DbError::MissingMatchPoints { sources: self.sources });
        };
        let mut points = vec![0u32; self.schema.len()];
        for &(slot, p) in &mp.points {
            points[slot as usize] = p;
        }
        // nmap (>= the 2023 rewrite) implies R for tests whose MatchPoints score R.
        let mut r_slot_of_test: HashMap<usize, Slot> = HashMap::new();
        for &(slot, p) in &mp.points {
            if p > 0 && self.schema.names(slot).1 == "R" {
                r_slot_of_test.insert(self.schema.test_of(slot), slot);
            }
        }
        let yes = self.intern_expr("Y", false).unwrap_or_default();
        let no = self.intern_expr("N", false).unwrap_or_default();

        let mut items = Vec::with_capacity(self.attrs.len());
        let mut implied = Vec::new();
        let mut refs = Vec::with_capacity(self.refs.len());
        for raw in std::mem::take(&mut self.refs) {
            let start = items.len();
            let implied_start = implied.len();
            for span_index in raw.tests.start..raw.tests.end {
                let span = self.test_spans[span_index as usize].clone();
                let r_slot = r_slot_of_test.get(&(span.test as usize)).copied();
                let mut has_r = false;
                for attr_index in span.attrs.clone() {
                    let pair = self.attrs[attr_index as usize];
                    let slot = self.pairs[pair as usize].slot;
                    has_r |= Some(slot) == r_slot;
                    let p = points[slot as usize];
                    if p > 0 {
                        items.push(Item { pair, points: p });
                    }
                }
                if let (false, Some(r)) = (has_r, r_slot) {
                    let expr = if span.attrs.is_empty() { no } else { yes };
                    let pair = self.intern_pair(r, expr);
                    implied.push(Item { pair, points: points[r as usize] });
                }
            }
            // Heaviest attributes first: a mismatch then rejects the
            // reference sooner (the order cannot change any score).
            items[start..].sort_by_key(|i| std::cmp::Reverse(i.points));
            let to_u32 = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            refs.push(Reference {
                name: raw.name,
                source: raw.source,
                line: raw.line,
                classes: raw.classes.into(),
                tests: raw.tests,
                total: items[start..].iter().map(|i| i.points).sum(),
                total_implied: implied[implied_start..].iter().map(|i| i.points).sum(),
                items: to_u32(start)..to_u32(items.len()),
                implied: to_u32(implied_start)..to_u32(implied.len()),
            });
        }
        Ok(Database {
            schema: self.schema,
            points,
            match_points_line: (mp.source, mp.line),
            exprs: self.exprs,
            pairs: self.pairs,
            test_spans: self.test_spans,
            attrs: self.attrs,
            items,
            implied,
            refs,
            sources: self.sources,
        })
    }
}

/// A compiled, immutable set of reference fingerprints and their MatchPoints.
#[derive(Clone, Debug)]
pub struct Database {
    pub(crate) schema: Schema,
    pub(crate) points: Vec<u32>,
    match_points_line: (usize, usize),
    pub(crate) exprs: Vec<Arc<Expr>>,
    pub(crate) pairs: Vec<Pair>,
    test_spans: Vec<TestSpan>,
    attrs: Vec<u32>,
    pub(crate) items: Vec<Item>,
    pub(crate) implied: Vec<Item>,
    pub(crate) refs: Vec<Reference>,
    sources: Vec<PathBuf>,
}

impl Database {
    /// A builder, to add files or strings one by one.
    pub fn builder() -> DatabaseBuilder {
        DatabaseBuilder::new()
    }

    /// Loads exactly the given files, merged in order. The caller finds
    /// them: this crate knows no default location.
    ///
    /// # Errors
    /// The first [`DbError`] of any file, or a missing/duplicate MatchPoints.
    pub fn load<P: AsRef<Path>>(paths: &[P]) -> Result<Database, DbError> {
        let mut builder = DatabaseBuilder::new();
        for path in paths {
            builder.add_file(path)?;
        }
        builder.build()
    }

    /// Number of reference fingerprints.
    pub fn len(&self) -> usize {
        self.refs.len()
    }

    /// Whether there are no references.
    pub fn is_empty(&self) -> bool {
        self.refs.is_empty()
    }

    /// All references, in load order.
    pub fn references(&self) -> &[Reference] {
        &self.refs
    }

    /// The files that were loaded, in order.
    pub fn sources(&self) -> &[PathBuf] {
        &self.sources
    }

    /// The file a reference came from.
    pub fn source_of(&self, reference: &Reference) -> &Path {
        &self.sources[reference.source as usize]
    }

    /// File and line of the MatchPoints block.
    pub fn match_points_location(&self) -> (&Path, usize) {
        (&self.sources[self.match_points_line.0], self.match_points_line.1)
    }

    /// The points of `test.attr` (0 when MatchPoints does not score it).
    pub fn points(&self, test: &str, attr: &str) -> u32 {
        self.schema.lookup(test, attr).map_or(0, |slot| self.points[slot as usize])
    }

    /// The test lines of a reference, in file order, each as its name and
    /// `(attribute, expression)` pairs.
    pub fn tests_of<'a>(
        &'a self,
        reference: &'a Reference,
    ) -> impl Iterator<Item = (&'a str, Vec<(&'a str, &'a Expr)>)> + 'a {
        self.test_spans[reference.tests.start as usize..reference.tests.end as usize].iter().map(
            move |span| {
                let attrs = self.attrs[span.attrs.start as usize..span.attrs.end as usize]
                    .iter()
                    .map(|&pair| {
                        let Pair { slot, expr } = self.pairs[pair as usize];
                        (self.schema.names(slot).1, &*self.exprs[expr as usize])
                    })
                    .collect();
                (self.schema.test_name(span.test as usize), attrs)
            },
        )
    }

    /// Sum of the points a reference can score (explicit attributes only, or
    /// including the implied `R` of [`crate::Dialect::Modern`]).
    pub(crate) fn total_points(&self, reference: &Reference, with_implied: bool) -> u32 {
        reference.total + if with_implied { reference.total_implied } else { 0 }
    }

    /// The scored items of a reference.
    pub(crate) fn items_of(&self, reference: &Reference, with_implied: bool) -> (&[Item], &[Item]) {
        let explicit = &self.items[reference.items.start as usize..reference.items.end as usize];
        let implied = if with_implied {
            &self.implied[reference.implied.start as usize..reference.implied.end as usize]
        } else {
            &[]
        };
        (explicit, implied)
    }
}
