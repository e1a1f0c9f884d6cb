//! What the router holds for each stream: a type-erased route (a run of records, or a
//! tumbling window's batch folded), and what turns a handler into one.

use futures_util::future::BoxFuture;

use crate::contract::{Invocation, SegmentFailure};
use crate::error::Error;
use crate::handler::States;
use crate::payload::Record;
use crate::source::WindowFields;

/// Processes a run of records of one route, in order, stopping at the first failure.
pub(crate) trait ErasedRoute: Send + Sync {
    /// Processes `records`, a run of one stream's records in stream order that starts at
    /// index `first` of the batch. The invocation's `per_key` asks to run records of
    /// different item keys concurrently, each key's records in order (routes that cannot,
    /// ignore it); each record that is done is marked in its `progress`.
    fn process<'a>(
        &'a self,
        records: &'a [Record<'a>],
        first: usize,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Option<SegmentFailure>>;
}

/// A window's batch folded: the failure, if a change failed, and the state to answer with.
pub(crate) struct WindowRun {
    pub(crate) failure: Option<SegmentFailure>,
    pub(crate) state: serde_json::Value,
}

/// Folds a window event's records; a window route, type-erased.
pub(crate) trait ErasedWindow: Send + Sync {
    /// Folds `records` (the whole batch, in stream order) into the window's incoming state,
    /// stopping at the first failure; at the window's final invocation, with every record
    /// folded, calls the final step. `Err` fails the invocation.
    fn fold<'a>(
        &'a self,
        records: &'a [Record<'a>],
        window: &'a WindowFields<'a>,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<WindowRun, Error>>;
}

/// A handler ready to be registered on a [`Router`](crate::Router): made from an
/// `async fn` directly, from [`each`](crate::each) / [`batch`](crate::batch) with filters, or
/// from [`window`](crate::window) for tumbling windows.
pub struct Route {
    pub(crate) inner: RouteKind,
}

/// Which events a route takes: plain batches, or a tumbling window's.
pub(crate) enum RouteKind {
    Plain(Box<dyn ErasedRoute>),
    Window(Box<dyn ErasedWindow>),
}

/// Anything [`Router::stream`](crate::Router::stream) accepts: a record handler
/// (`async fn(Change<T, K>) -> Result<(), E>`), or a route built with [`each`](crate::each),
/// [`batch`](crate::batch) or [`window`](crate::window). `M` only tells the implementations
/// apart.
///
/// A handler that takes the router's [`State`](crate::State) becomes a route only by being
/// registered, after [`Router::with_state`](crate::Router::with_state):
///
/// ```
/// use ddbstream::{BoxError, Change, Item, Router, State};
///
/// async fn on_item(State(_prefix): State<String>, _change: Change<Item>) -> Result<(), BoxError> {
///     Ok(())
/// }
///
/// let _router = Router::new().with_state("orders/".to_owned()).stream("Orders", on_item);
/// ```
///
/// Made into a route any other way, it would have no state to run with; that does not
/// compile:
///
/// ```compile_fail
/// use ddbstream::{BoxError, Change, IntoRoute, Item, State};
///
/// async fn on_item(State(_prefix): State<String>, _change: Change<Item>) -> Result<(), BoxError> {
///     Ok(())
/// }
///
/// let _route = on_item.into_route();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a route",
    note = "pass an `async fn(Change<T, K>) -> Result<(), E>`, or `ddbstream::each(f)` / `ddbstream::batch(f)` / \
            `ddbstream::window(fold, end)`"
)]
pub trait IntoRoute<M> {
    /// Turns it into a route, with the router's states at hand. Only
    /// [`Router::stream`](crate::Router::stream) and [`Router::fallback`](crate::Router::fallback)
    /// have them (nothing outside the crate can make a `States`), so a handler that takes a
    /// [`State`](crate::State) becomes a route only where its state is known, and a missing
    /// state is named when the route is registered, never when a record arrives.
    #[doc(hidden)]
    fn into_route(self, states: &States) -> Route;
}

impl IntoRoute<()> for Route {
    fn into_route(self, _: &States) -> Route {
        self
    }
}
