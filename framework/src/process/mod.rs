//! Process: records in stream order through their routes, guarded against panics and the
//! invocation deadline.

mod batch;
mod control;
mod deadline;
mod failure;
mod guard;
mod invocation;
mod isolation;
mod order;
mod progress;
pub(crate) mod replay;
mod span;
mod supervise;

#[cfg(feature = "redrive")]
pub(crate) use batch::identifiers;
pub(crate) use batch::Outcome;
pub(crate) use control::Control;
pub(crate) use deadline::Deadline;
pub(crate) use failure::{Failure, FailureNote, SegmentFailure};
pub(crate) use guard::{contained, guarded};
pub(crate) use invocation::Invocation;
pub use isolation::invocation_deadline;
pub(crate) use isolation::{Isolation, Slot};
pub(crate) use progress::Progress;
pub(crate) use span::{log_record_contents, record_span};
pub(crate) use supervise::supervise;
