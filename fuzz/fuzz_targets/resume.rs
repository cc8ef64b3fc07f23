//! The resume-file reader on any text. A file that reads must write back
//! to text that reads to the same state.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scry_probe::resume::ResumeState;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = ResumeState::parse(text, "fuzz.resume") else { return };
    let again = ResumeState::parse(&file.state.to_text(), "again").expect("written text reads back");
    assert_eq!(again.state, file.state);
});
