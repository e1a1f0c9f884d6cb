//! What the router holds for each stream: a type-erased route.

use futures_util::future::BoxFuture;

use super::window::ErasedWindow;
use crate::handler::States;
use crate::payload::RawRecord;
use crate::process::{Invocation, SegmentFailure};

/// Processes a run of records of one route, in order, stopping at the first failure.
pub(crate) trait ErasedRoute: Send + Sync {
    /// Processes `records`, a run of one stream's records in stream order that starts at
    /// index `first` of the batch. The invocation's `per_key` asks to run records of
    /// different item keys concurrently, each key's records in order (routes that cannot,
    /// ignore it); each record that is done is marked in its `progress`.
    fn process<'a>(
        &'a self,
        records: &'a [RawRecord<'a>],
        first: usize,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Option<SegmentFailure>>;
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
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a route",
    note = "pass an `async fn(Change<T, K>) -> Result<(), E>`, or `ddbstream::each(f)` / `ddbstream::batch(f)` / \
            `ddbstream::window(fold, end)`"
)]
pub trait IntoRoute<M> {
    /// Turns it into a route.
    fn into_route(self) -> Route;

    /// Turns it into a route, with the router's states at hand (for handlers that take a
    /// [`State`](crate::State)).
    #[doc(hidden)]
    fn into_route_with(self, states: &States) -> Route
    where
        Self: Sized,
    {
        let _ = states;
        self.into_route()
    }
}

impl IntoRoute<()> for Route {
    fn into_route(self) -> Route {
        self
    }
}
