//! Process: the handler shapes a route can call.

mod batch;
mod record;
mod state;

pub use batch::{BatchFailure, BatchHandler};
pub use record::RecordHandler;
pub use state::{State, States};
