//! A tumbling window's final step: called once with the state folded over the whole window.

use std::future::Future;

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::state::{State, States};
use crate::error::BoxError;

/// What a window's final step gets: the state folded over every change of the window (one
/// shard's changes, in stream order), the window's bounds and shard.
///
/// Lambda may call the final step more than once for one window (an answer lost, a retry
/// after a failure), so what it writes must be idempotent: key it by
/// [`start`](Self::start) and [`shard_id`](Self::shard_id).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WindowEnd<S> {
    /// The window's state after its last change.
    pub state: S,
    /// The window's start, ISO 8601 as Lambda sends it (`2026-11-29T10:00:00Z`).
    pub start: String,
    /// The window's end (exclusive), ISO 8601.
    pub end: String,
    /// The shard whose changes the window holds.
    pub shard_id: String,
    /// The mapping's source: the DynamoDB stream's ARN, or the Kinesis stream's.
    pub event_source_arn: String,
    /// The window ended before its time: Lambda ended it (the shard ended), or its state
    /// would have grown past 1 MB and the framework ended it. It holds fewer changes than the
    /// window's span; after a size end the same window goes on with a fresh state, and a
    /// later `end` (of the same `start`) holds the rest.
    pub terminated_early: bool,
}

/// The final step, bound to the router's states.
pub(crate) type EndStep<S> = Box<dyn Fn(WindowEnd<S>) -> BoxFuture<'static, Result<(), BoxError>> + Send + Sync>;

/// A window's final step: `async fn(WindowEnd<S>) -> Result<(), E>`, or with the router's
/// state first, `async fn(State<X>, WindowEnd<S>) -> Result<(), E>`. `M` only tells the two
/// shapes apart.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a window's final step for `WindowEnd<{S}>`",
    note = "a final step is an `async fn(WindowEnd<S>) -> Result<(), E>` or `async fn(State<X>, WindowEnd<S>) -> \
            Result<(), E>` (Send + Sync + 'static) where `E: Into<ddbstream::BoxError>`"
)]
pub trait WindowEndHandler<S, M>: Send + 'static {
    /// Binds the step to the router's states.
    #[doc(hidden)]
    fn bind(self, states: &States) -> EndStep<S>;
}

impl<F, Fut, E, S> WindowEndHandler<S, (fn(WindowEnd<S>),)> for F
where
    F: Fn(WindowEnd<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
    S: 'static,
{
    fn bind(self, _: &States) -> EndStep<S> {
        Box::new(move |end| self(end).map(|result| result.map_err(Into::into)).boxed())
    }
}

impl<F, Fut, E, S, X> WindowEndHandler<S, (fn(State<X>, WindowEnd<S>), X)> for F
where
    F: Fn(State<X>, WindowEnd<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
    S: 'static,
    X: Clone + Send + Sync + 'static,
{
    #[track_caller]
    fn bind(self, states: &States) -> EndStep<S> {
        let state = states.require::<X>();
        Box::new(move |end| self(State(state.clone()), end).map(|result| result.map_err(Into::into)).boxed())
    }
}
