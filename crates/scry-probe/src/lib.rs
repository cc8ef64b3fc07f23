//! scry-probe: the stateless prober.
//!
//! Targets are a pure function of an index: `index -> permutation ->
//! (address, port)`, so sharding, resume and retries are index ranges and
//! memory stays flat from one host to millions. Each probe's sequence number
//! is a keyed cookie of its 4-tuple, so replies are validated without a
//! per-probe table. Scheduling takes `now` as an argument and does no I/O.

pub mod adapt;
pub mod cookie;
pub mod discovery;
pub mod pace;
pub mod payloads;
pub mod permute;
pub mod ports;
pub mod probe;
pub mod rate;
pub mod results;
pub mod resume;
pub mod retry;
pub mod services;
pub mod state;
pub mod syn;
pub mod targets;
pub mod tcpscan;
pub mod udp;
