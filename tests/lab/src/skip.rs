//! Skipping lab tests where the lab cannot be built for lack of privilege,
//! and failing loudly on CI, where it must be.

use crate::{Lab, LabError};

/// Turns the result of [`crate::LabBuilder::build`] into a lab for a test.
///
/// Returns `None` (after printing `skipped: <test>: lab needs root
/// (CAP_NET_ADMIN)` to stderr) when the lab needs privileges this process
/// lacks and the environment variable `CI` is not `true`. The test name is
/// the current thread's name, which libtest sets to the test's path.
///
/// # Panics
/// When privilege is missing and `CI=true`, and on any other build error:
/// a test that needs the lab cannot pass without it.
pub fn require_lab(result: Result<Lab, LabError>) -> Option<Lab> {
    let err = match result {
        Ok(lab) => return Some(lab),
        Err(err) => err,
    };
    if !err.is_not_root() {
        panic!("building the lab failed: {err}");
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the lab cannot be built: {err}");
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("<unnamed test>");
    eprintln!("skipped: {test}: lab needs root (CAP_NET_ADMIN)");
    None
}

/// Builds a lab from a [`crate::LabBuilder`] expression, or returns from
/// the enclosing test (a `fn` returning `()`) when the lab needs privileges
/// this process lacks. See [`require_lab`] for the CI and error rules.
///
/// ```no_run
/// use scry_lab::{lab_or_skip, Lab, TargetSpec};
/// fn my_test() {
///     let lab = lab_or_skip!(Lab::builder().target(TargetSpec::new().tcp_listen(&[80])));
///     assert_eq!(lab.targets().len(), 1);
/// }
/// ```
#[macro_export]
macro_rules! lab_or_skip {
    ($builder:expr) => {
        match $crate::require_lab($crate::LabBuilder::build($builder)) {
            ::std::option::Option::Some(lab) => lab,
            ::std::option::Option::None => return,
        }
    };
}
