//! The subject-fingerprint parser `--os-match` reads, on any text. What
//! parses must print in both of nmap's forms and read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_os::SubjectFingerprint;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(fp) = SubjectFingerprint::parse(text) else { return };
    for printed in [fp.to_lines(true), fp.to_wrapped(true)] {
        let again = SubjectFingerprint::parse(&printed)
            .unwrap_or_else(|e| panic!("{printed:?}, printed from {text:?}, does not parse: {e}"));
        assert_eq!(again, fp, "{printed:?} reads back differently");
    }
});
