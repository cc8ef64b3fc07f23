//! Target specifications. The whole input is an `-iL` list and an
//! `--excludefile` list; when it is text, each line is also a command-line
//! target or, with a leading `!`, an `--exclude` list. Names are never
//! resolved: `-n` is set and the resolver fails the run if it is called.
//! The built set's index functions must agree with each other.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_probe::targets::{TargetSet, TargetSetBuilder};

fn builder() -> TargetSetBuilder {
    TargetSetBuilder::new()
        .no_resolve(true)
        // Small enough to keep runs fast, large enough to reach the limit's checks.
        .max_ranges(1 << 12)
        .resolver(|host| panic!("{host:?} sent to the resolver under -n"))
}

fn check(set: &TargetSet) {
    let len = set.len();
    for index in [0, 1, len / 2, len.saturating_sub(1), len] {
        match set.get(index) {
            Some(addr) => {
                assert!(index < len);
                assert!(set.contains(addr));
                assert_eq!(set.index_of(addr), Some(index));
            }
            None => assert!(index >= len),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut list = builder();
    let _ = list.add_list(data, "fuzz-list");
    let _ = list.exclude_list(data, "fuzz-exclude");
    check(&list.build());
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut cli = builder();
    for line in text.lines() {
        let _ = match line.strip_prefix('!') {
            Some(list) => cli.exclude(list),
            None => cli.add(line),
        };
    }
    check(&cli.build());
});
