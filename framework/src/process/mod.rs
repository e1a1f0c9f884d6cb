//! Process: records in stream order through their routes, guarded against panics and the
//! invocation deadline.

mod batch;
mod deadline;
mod failure;
mod guard;
mod order;
mod span;

pub(crate) use batch::{process, Outcome};
pub(crate) use deadline::Deadline;
pub(crate) use failure::{Failure, SegmentFailure};
pub(crate) use guard::{contained, guarded};
pub(crate) use span::{log_record_contents, record_span};
