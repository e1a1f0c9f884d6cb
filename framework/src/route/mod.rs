//! Route: which handler gets a record, by the stream it came from.

mod batch;
mod each;
mod filter;
#[allow(clippy::module_inception)]
mod route;
pub(crate) mod router;

pub use batch::{batch, Batch};
pub use each::{each, Each};
use filter::Filter;
use route::ErasedRoute;
pub use route::{IntoRoute, Route};
pub use router::Router;
