//! Test and attribute names interned to small indexes.
//!
//! nmap's fingerprints name 13 probe tests (`SEQ` … `IE`), each with a fixed
//! list of attributes (Nmap book, "TCP/IP Fingerprinting Methods Supported by
//! Nmap"). The schema is seeded with those names in nmap's order and grows
//! when a database file uses others, so a `(test, attribute)` pair becomes one
//! `u32` "slot" that scoring can index arrays with instead of comparing
//! strings.

use std::collections::HashMap;

/// The tests and attributes of nmap's second-generation OS detection, in the
/// order nmap prints them (osscan.cc's `test_attrs` table).
pub const KNOWN_TESTS: [(&str, &[&str]); 13] = [
    ("SEQ", &["SP", "GCD", "ISR", "TI", "CI", "II", "SS", "TS"]),
    ("OPS", &["O1", "O2", "O3", "O4", "O5", "O6"]),
    ("WIN", &["W1", "W2", "W3", "W4", "W5", "W6"]),
    ("ECN", &["R", "DF", "T", "TG", "W", "O", "CC", "Q"]),
    ("T1", &["R", "DF", "T", "TG", "S", "A", "F", "RD", "Q"]),
    ("T2", T_ATTRS),
    ("T3", T_ATTRS),
    ("T4", T_ATTRS),
    ("T5", T_ATTRS),
    ("T6", T_ATTRS),
    ("T7", T_ATTRS),
    ("U1", &["R", "DF", "T", "TG", "IPL", "UN", "RIPL", "RID", "RIPCK", "RUCK", "RUD"]),
    ("IE", &["R", "DFI", "T", "TG", "CD"]),
];

const T_ATTRS: &[&str] = &["R", "DF", "T", "TG", "W", "S", "A", "F", "O", "RD", "Q"];

/// Whether an attribute holds a TCP option string (`O`, `O1`..`O6`), the only
/// place where newer databases use bracketed sub-expressions like `M[>500]`.
pub fn is_option_attr(attr: &str) -> bool {
    match attr.as_bytes() {
        [b'O'] => true,
        [b'O', d] => (b'1'..=b'6').contains(d),
        _ => false,
    }
}

/// A slot: one `(test, attribute)` pair.
pub type Slot = u32;

#[derive(Clone, Debug, Default)]
struct TestDef {
    name: Box<str>,
    attrs: HashMap<Box<str>, Slot>,
}

/// The interned names of one database.
#[derive(Clone, Debug)]
pub struct Schema {
    tests: Vec<TestDef>,
    test_index: HashMap<Box<str>, usize>,
    slots: Vec<(usize, Box<str>)>,
}

impl Default for Schema {
    fn default() -> Self {
        let mut schema = Schema { tests: Vec::new(), test_index: HashMap::new(), slots: Vec::new() };
        for (test, attrs) in KNOWN_TESTS {
            for attr in attrs {
                schema.intern(test, attr);
            }
        }
        schema
    }
}

impl Schema {
    /// The index of test `test`, adding the name when it is new.
    pub fn intern_test(&mut self, test: &str) -> usize {
        if let Some(&t) = self.test_index.get(test) {
            return t;
        }
        self.tests.push(TestDef { name: test.into(), attrs: HashMap::new() });
        self.test_index.insert(test.into(), self.tests.len() - 1);
        self.tests.len() - 1
    }

    /// The slot of attribute `attr` of test number `test`, adding it when new.
    pub fn intern_attr(&mut self, test: usize, attr: &str) -> Slot {
        if let Some(&slot) = self.tests[test].attrs.get(attr) {
            return slot;
        }
        let slot = Slot::try_from(self.slots.len()).unwrap_or(Slot::MAX);
        self.slots.push((test, attr.into()));
        self.tests[test].attrs.insert(attr.into(), slot);
        slot
    }

    /// The slot of `test.attr`, adding the names when they are new.
    pub fn intern(&mut self, test: &str, attr: &str) -> Slot {
        let t = self.intern_test(test);
        self.intern_attr(t, attr)
    }

    /// The name of test number `test`.
    pub fn test_name(&self, test: usize) -> &str {
        &self.tests[test].name
    }

    /// The test number a slot belongs to.
    pub fn test_of(&self, slot: Slot) -> usize {
        self.slots[slot as usize].0
    }

    /// The slot of attribute `attr` of test number `test`, if known.
    pub fn lookup_attr(&self, test: usize, attr: &str) -> Option<Slot> {
        self.tests.get(test)?.attrs.get(attr).copied()
    }

    /// The slot of `test.attr`, if either name is known.
    pub fn lookup(&self, test: &str, attr: &str) -> Option<Slot> {
        let t = *self.test_index.get(test)?;
        self.tests[t].attrs.get(attr).copied()
    }

    /// Position of a test in nmap's print order (unknown tests sort last, in
    /// the order they were first seen).
    pub fn test_position(&self, test: &str) -> Option<usize> {
        self.test_index.get(test).copied()
    }

    /// The `(test, attribute)` names of a slot.
    pub fn names(&self, slot: Slot) -> (&str, &str) {
        let (t, attr) = &self.slots[slot as usize];
        (&self.tests[*t].name, attr)
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no slots (never true: the known tests are seeded).
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}
