//! The contract between a batch's processing and its routes: what a route is given (the
//! [`Invocation`]: its start gate (time, stop, lease), its stop control, the progress it marks, the handler
//! runtime it runs on), how it runs a handler ([`guarded`]: panics contained, the deadline
//! kept), and what it answers ([`SegmentFailure`], the first record that failed and why).
//! Routes (`route/`) implement it, the batch's processing (`process/`) drives it; it
//! imports neither.

mod control;
mod failure;
mod guarded;
mod invocation;
mod isolation;
mod progress;
pub(crate) mod replay;
mod span;
mod start_gate;

pub(crate) use control::Control;
pub(crate) use failure::{Failure, FirstFailure, SegmentFailure};
pub(crate) use guarded::{contained, guarded};
pub(crate) use invocation::Invocation;
pub use isolation::invocation_deadline;
pub(crate) use isolation::{Isolation, Slot};
pub(crate) use span::{log_record_contents, record_span};
pub(crate) use start_gate::StartGate;
