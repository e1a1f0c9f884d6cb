//! Route: which handler gets a record, by the stream it came from.

mod batch;
mod each;
mod filter;
mod into_route;
pub(crate) mod router;
mod table;

pub use batch::{batch, Batch};
pub use each::{each, Each};
use filter::Filter;
use into_route::ErasedRoute;
pub use into_route::{IntoRoute, Route};
pub use router::Router;
pub(crate) use table::RouteTable;
