//! Process: the handler shapes a route can call.

mod batch;
mod record;
mod state;
mod window;

pub use batch::{BatchFailure, BatchHandler};
pub use record::RecordHandler;
pub use state::{State, States};
pub use window::{EndStep, WindowEnd, WindowEndHandler};
