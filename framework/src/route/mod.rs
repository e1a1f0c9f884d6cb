//! Route: which handler gets a record, by the stream it came from (and, for a tumbling
//! window's event, which window route folds it).

mod batch;
mod each;
mod filter;
mod into_route;
mod table;
mod window;

pub use batch::{batch, Batch};
pub use each::{each, Each};
pub(crate) use into_route::RouteKind;
pub use into_route::{IntoRoute, Route};
pub(crate) use table::RouteTable;
pub use window::{window, Window, MAX_WINDOW_STATE_BYTES};
