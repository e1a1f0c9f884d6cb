//! Process: a batch's records in stream order, each run of one stream's records through its
//! route, the whole supervised against panics and the invocation deadline; the outcome says
//! which record failed first.

mod segments;
mod supervise;

#[cfg(feature = "redrive")]
pub(crate) use segments::identifiers;
pub(crate) use segments::Outcome;
pub(crate) use supervise::supervise;
