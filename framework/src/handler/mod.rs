//! Handlers: the shapes of user code a route can call (per change, per batch, a window's final
//! step) and the router's state they may take.

mod batch;
mod record;
mod state;
mod window_end;

pub use batch::{BatchFailure, BatchHandler};
pub use record::RecordHandler;
pub use state::State;
pub(crate) use state::States;
pub(crate) use window_end::EndStep;
pub use window_end::{WindowEnd, WindowEndHandler};
