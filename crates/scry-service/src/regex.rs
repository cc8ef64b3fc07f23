//! nmap's regex engine: PCRE2 on raw bytes, with nmap's compile options and
//! match limits.
//!
//! nmap compiles every `match`/`softmatch` regex with `pcre2_compile` and no
//! options except `PCRE2_CASELESS` (flag `i`) and `PCRE2_DOTALL` (flag `s`):
//! no UTF mode, so patterns and subjects are bytes, `\0` is a NUL byte and a
//! literal `{` that starts no quantifier is a literal. It rejects a pattern
//! that can match the empty string (`PCRE2_INFO_MATCHEMPTY`), and matches
//! with a match context limiting the match to 50000 calls, the depth to 1000
//! and the heap to 10240 KiB (service_scan.cc, `ServiceProbeMatch::InitMatch`).
//! A match that hits a limit counts as no match, as in nmap.
//!
//! The `pcre2` crate (0.2.11) has no setter for the match, depth or heap
//! limits and cannot report `PCRE2_INFO_MATCHEMPTY`, so this module calls its
//! raw binding, `pcre2-sys`, directly (linked to Debian's libpcre2-8). All
//! `unsafe` code of the crate lives here, behind [`Pattern`].

use std::ptr::NonNull;

use pcre2_sys::{
    pcre2_code_8, pcre2_code_free_8, pcre2_compile_8, pcre2_get_error_message_8, pcre2_get_ovector_pointer_8,
    pcre2_match_8, pcre2_match_context_8, pcre2_match_context_create_8, pcre2_match_context_free_8,
    pcre2_match_data_8, pcre2_match_data_create_8, pcre2_match_data_free_8, pcre2_pattern_info_8,
    pcre2_set_depth_limit_8, pcre2_set_heap_limit_8, pcre2_set_match_limit_8, PCRE2_CASELESS, PCRE2_DOTALL,
    PCRE2_ERROR_NOMATCH, PCRE2_INFO_CAPTURECOUNT, PCRE2_INFO_MATCHEMPTY, PCRE2_UNSET,
};

/// nmap's `pcre2_set_match_limit(match_context, 50000)`.
pub const MATCH_LIMIT: u32 = 50_000;
/// nmap's `pcre2_set_depth_limit(match_context, 1000)`.
pub const DEPTH_LIMIT: u32 = 1_000;
/// nmap's `pcre2_set_heap_limit(match_context, 10240)`, in KiB.
pub const HEAP_LIMIT_KIB: u32 = 10_240;

/// Why a pattern did not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// Byte offset in the pattern where PCRE2 stopped.
    pub offset: usize,
    /// PCRE2's message.
    pub message: String,
}

/// A compiled regex with nmap's options and limits. Immutable; matching
/// uses per-thread match data, so one `Pattern` serves many threads.
pub struct Pattern {
    code: NonNull<pcre2_code_8>,
    context: NonNull<pcre2_match_context_8>,
    captures: usize,
    matches_empty: bool,
}

// SAFETY: PCRE2 documents compiled code and match contexts as shareable
// between threads as long as nobody modifies them; `Pattern` never does
// after construction, and every match uses its own match data.
unsafe impl Send for Pattern {}
unsafe impl Sync for Pattern {}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pattern").field("captures", &self.captures).finish_non_exhaustive()
    }
}

/// The capture offsets of one successful match: entry 0 is the whole match,
/// entry `n` group `n` (`None` when the group did not take part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captures {
    groups: Vec<Option<(usize, usize)>>,
}

impl Captures {
    /// Offsets of group `n`, `None` when unset or beyond the pattern's groups.
    pub fn get(&self, n: usize) -> Option<(usize, usize)> {
        self.groups.get(n).copied().flatten()
    }

    /// Number of entries: the pattern's capture count plus one, as nmap's
    /// `pcre2_get_ovector_count`.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Never true: entry 0 always exists.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// A match failure other than "no match" (a limit was hit, or an internal
/// error). nmap warns and treats it as no match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchError {
    /// PCRE2's (negative) error code.
    pub code: i32,
    /// PCRE2's message.
    pub message: String,
}

fn error_message(code: i32) -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; PCRE2 NUL-terminates.
    let n = unsafe { pcre2_get_error_message_8(code, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return format!("PCRE2 error {code}");
    }
    String::from_utf8_lossy(&buf[..n as usize]).into_owned()
}

/// Match data reused by every match on a thread: PCRE2 keeps its
/// backtracking frames in the match data, so one per match (as nmap
/// allocates one per pattern) would mean a heap allocation per line tried.
struct Scratch {
    data: *mut pcre2_match_data_8,
    pairs: usize,
}

impl Scratch {
    /// Match data with room for at least `pairs` ovector pairs.
    fn data_for(&mut self, pairs: usize) -> Result<*mut pcre2_match_data_8, MatchError> {
        if self.data.is_null() || self.pairs < pairs {
            let want = pairs.max(SCRATCH_PAIRS);
            // SAFETY: a fresh match data from the default allocator; the old
            // one (if any) is freed once and replaced.
            let fresh = unsafe { pcre2_match_data_create_8(want as u32, std::ptr::null_mut()) };
            if fresh.is_null() {
                return Err(MatchError { code: 0, message: "out of memory for match data".into() });
            }
            if !self.data.is_null() {
                // SAFETY: created by pcre2_match_data_create_8, freed once.
                unsafe { pcre2_match_data_free_8(self.data) };
            }
            self.data = fresh;
            self.pairs = want;
        }
        Ok(self.data)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.data.is_null() {
            // SAFETY: created by pcre2_match_data_create_8, freed once.
            unsafe { pcre2_match_data_free_8(self.data) };
        }
    }
}

/// Ovector pairs of the per-thread match data (grown for bigger patterns).
const SCRATCH_PAIRS: usize = 32;

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> =
        const { std::cell::RefCell::new(Scratch { data: std::ptr::null_mut(), pairs: 0 }) };
}

impl Pattern {
    /// Compiles `pattern` (bytes, as they stand in the file) with nmap's
    /// options: `caseless` for flag `i`, `dotall` for flag `s`.
    ///
    /// # Errors
    /// PCRE2's offset and message when the pattern does not compile.
    pub fn compile(pattern: &[u8], caseless: bool, dotall: bool) -> Result<Pattern, CompileError> {
        let mut options = 0;
        if caseless {
            options |= PCRE2_CASELESS;
        }
        if dotall {
            options |= PCRE2_DOTALL;
        }
        let mut code_err = 0;
        let mut offset = 0usize;
        // SAFETY: pointer and length describe `pattern`; the out-pointers are valid.
        let raw = unsafe {
            pcre2_compile_8(
                pattern.as_ptr(),
                pattern.len(),
                options,
                &mut code_err,
                &mut offset,
                std::ptr::null_mut(),
            )
        };
        let Some(code) = NonNull::new(raw) else {
            return Err(CompileError { offset, message: error_message(code_err) });
        };
        // SAFETY: a fresh context from the default allocator.
        let Some(context) = NonNull::new(unsafe { pcre2_match_context_create_8(std::ptr::null_mut()) })
        else {
            // SAFETY: `code` came from pcre2_compile and is freed once.
            unsafe { pcre2_code_free_8(code.as_ptr()) };
            return Err(CompileError { offset: 0, message: "out of memory for a match context".into() });
        };
        // SAFETY: `context` is valid; these setters only store values.
        unsafe {
            pcre2_set_match_limit_8(context.as_ptr(), MATCH_LIMIT);
            pcre2_set_depth_limit_8(context.as_ptr(), DEPTH_LIMIT);
            pcre2_set_heap_limit_8(context.as_ptr(), HEAP_LIMIT_KIB);
        }
        let mut pattern = Pattern { code, context, captures: 0, matches_empty: false };
        pattern.captures = pattern.info_u32(PCRE2_INFO_CAPTURECOUNT) as usize;
        pattern.matches_empty = pattern.info_u32(PCRE2_INFO_MATCHEMPTY) != 0;
        Ok(pattern)
    }

    fn info_u32(&self, what: u32) -> u32 {
        let mut value: u32 = 0;
        // SAFETY: both queried items are documented as uint32_t.
        let rc = unsafe { pcre2_pattern_info_8(self.code.as_ptr(), what, (&mut value as *mut u32).cast()) };
        if rc == 0 {
            value
        } else {
            0
        }
    }

    /// Number of capture groups.
    pub fn capture_count(&self) -> usize {
        self.captures
    }

    /// True when the pattern can match an empty string; nmap refuses such
    /// patterns ("pattern matches zero-length string").
    pub fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// Runs the pattern on `subject` from offset 0, as nmap's `testMatch`.
    ///
    /// # Errors
    /// A limit or internal error, which nmap reports and treats as no match.
    pub fn captures(&self, subject: &[u8]) -> Result<Option<Captures>, MatchError> {
        let pairs = self.captures + 1;
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let data = scratch.data_for(pairs)?;
            // SAFETY: subject pointer/length are valid for the call; the match
            // data holds at least `pairs` pairs; PCRE2 only reads the context.
            let rc = unsafe {
                pcre2_match_8(
                    self.code.as_ptr(),
                    subject.as_ptr(),
                    subject.len(),
                    0,
                    0,
                    data,
                    self.context.as_ptr(),
                )
            };
            if rc == PCRE2_ERROR_NOMATCH {
                return Ok(None);
            }
            if rc < 0 {
                return Err(MatchError { code: rc, message: error_message(rc) });
            }
            // SAFETY: the ovector has `scratch.pairs` pairs; entries past the
            // last set group are PCRE2_UNSET.
            let groups = unsafe {
                let ovector = std::slice::from_raw_parts(pcre2_get_ovector_pointer_8(data), pairs * 2);
                (0..pairs)
                    .map(|i| {
                        let (start, end) = (ovector[2 * i], ovector[2 * i + 1]);
                        (start != PCRE2_UNSET && end != PCRE2_UNSET && start <= end && end <= subject.len())
                            .then_some((start, end))
                    })
                    .collect()
            };
            Ok(Some(Captures { groups }))
        })
    }

    /// True when the pattern matches `subject`; limit errors count as no match.
    pub fn is_match(&self, subject: &[u8]) -> bool {
        matches!(self.captures(subject), Ok(Some(_)))
    }
}

impl Drop for Pattern {
    fn drop(&mut self) {
        // SAFETY: both were created in `compile` and are freed exactly once.
        unsafe {
            pcre2_match_context_free_8(self.context.as_ptr());
            pcre2_code_free_8(self.code.as_ptr());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcre_features_nmap_relies_on_compile() {
        // Lookahead, lookbehind, atomic group, backreference, \0, literal '{'.
        for p in [&b"^a(?=b)"[..], b"(?<=x)y", b"(?>ab|a)c", b"^(a)\\1", b"^\\0\\x01", b"^{x}", b"^a{,3"] {
            assert!(Pattern::compile(p, false, false).is_ok(), "{}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn flags_i_and_s_map_to_caseless_and_dotall() {
        let plain = Pattern::compile(b"^ab.c", false, false).unwrap();
        assert!(!plain.is_match(b"AB\nc"));
        let i = Pattern::compile(b"^ab.c", true, false).unwrap();
        assert!(i.is_match(b"ABxc"));
        assert!(!i.is_match(b"AB\nc"));
        let is = Pattern::compile(b"^ab.c", true, true).unwrap();
        assert!(is.is_match(b"AB\nc"));
    }

    #[test]
    fn subjects_are_bytes_not_utf8() {
        let p = Pattern::compile(b"^\\xff(\\x00.)\\xfe", false, false).unwrap();
        let c = p.captures(b"\xff\x00\x80\xfe").unwrap().unwrap();
        assert_eq!(c.get(1), Some((1, 3)));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn unset_group_is_none() {
        let p = Pattern::compile(b"^(a)|(b)", false, false).unwrap();
        let c = p.captures(b"a").unwrap().unwrap();
        assert_eq!(c.get(1), Some((0, 1)));
        assert_eq!(c.get(2), None);
        assert_eq!(p.capture_count(), 2);
    }

    #[test]
    fn patterns_with_many_groups_grow_the_scratch() {
        let small = Pattern::compile(b"^(a)(b)", false, false).unwrap();
        assert_eq!(small.captures(b"ab").unwrap().unwrap().get(2), Some((1, 2)));
        let many: Vec<u8> = b"^".iter().chain(b"(x)".repeat(40).iter()).copied().collect();
        let big = Pattern::compile(&many, false, false).unwrap();
        let c = big.captures(&[b'x'; 40]).unwrap().unwrap();
        assert_eq!((c.len(), c.get(40)), (41, Some((39, 40))));
        // The small pattern still reads only its own groups afterwards.
        assert_eq!(small.captures(b"ab").unwrap().unwrap().len(), 3);
    }

    #[test]
    fn empty_matching_patterns_are_flagged() {
        assert!(Pattern::compile(b"a*", false, false).unwrap().matches_empty());
        assert!(!Pattern::compile(b"^a", false, false).unwrap().matches_empty());
    }

    #[test]
    fn compile_error_reports_offset() {
        let e = Pattern::compile(b"^ab(c", false, false).unwrap_err();
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("missing closing parenthesis"), "{}", e.message);
    }

    #[test]
    fn match_limit_counts_as_error() {
        // Catastrophic backtracking hits nmap's match limit of 50000.
        let p = Pattern::compile(b"^(a+)+$", false, false).unwrap();
        let mut s = vec![b'a'; 40];
        s.push(b'b');
        let e = p.captures(&s).unwrap_err();
        assert!(matches!(e.code, -47 | -53 | -63), "{e:?}");
        assert!(!p.is_match(&s));
    }
}
