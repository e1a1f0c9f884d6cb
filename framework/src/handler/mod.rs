//! Process: the handler shapes a route can call.

mod batch;
mod record;

pub use batch::{BatchFailure, BatchHandler};
pub use record::RecordHandler;
