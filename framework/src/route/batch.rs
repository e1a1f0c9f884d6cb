//! A route that calls its handler once with all the changes of a batch.

use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::filter::Filter;
use super::into_route::{ErasedRoute, IntoRoute, Route, RouteKind};
use crate::change::Change;
use crate::contract::{guarded, record_span, Failure, Invocation, SegmentFailure};
use crate::handler::States;
use crate::handler::{BatchFailure, BatchHandler, State};
use crate::payload::EventName;
use crate::payload::Record;

/// A whole-batch route with optional filters; build it with [`batch`].
pub struct Batch<H, T, K> {
    handler: H,
    filter: Filter<T, K>,
    _types: PhantomData<fn() -> (T, K)>,
}

/// Calls `handler` once with the batch's changes in stream order.
///
/// Changes are decoded first; if one does not decode, the handler receives the changes
/// before it and that record is reported. If the handler fails at index `i`, the changes
/// before `i` count as processed.
///
/// ```
/// use ddbstream::{batch, BatchFailure, Change, Router};
/// # #[derive(serde::Deserialize)] struct Order { pk: String }
/// async fn archive(changes: Vec<Change<Order>>) -> Result<(), BatchFailure> {
///     for (i, change) in changes.iter().enumerate() {
///         if change.new_image().is_some_and(|o| o.pk.is_empty()) {
///             return Err(BatchFailure::at(i, "empty key"));
///         }
///     }
///     Ok(())
/// }
/// let router = Router::new().stream("Orders", batch(archive));
/// ```
pub fn batch<H, T, K>(handler: H) -> Batch<H, T, K>
where
    H: BatchHandler<T, K>,
{
    Batch { handler, filter: Filter::default(), _types: PhantomData }
}

impl<H, T, K> Batch<H, T, K> {
    /// Only these event names reach the handler; others count as processed.
    pub fn only(mut self, events: impl IntoIterator<Item = EventName>) -> Self {
        self.filter.only(events);
        self
    }

    /// Only changes for which `predicate` holds reach the handler; others count as processed.
    pub fn filter(mut self, predicate: impl Fn(&Change<T, K>) -> bool + Send + Sync + 'static) -> Self {
        self.filter.add(predicate);
        self
    }

    /// Logs each record's keys and images (DynamoDB JSON, as sent) at INFO, in the record's
    /// span. Off by default: item contents reach the logs only from routes that ask.
    pub fn log_items(mut self) -> Self {
        self.filter.log_items = true;
        self
    }
}

impl<H, T, K> ErasedRoute for Batch<H, T, K>
where
    H: BatchHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    fn process<'a>(
        &'a self,
        records: &'a [Record<'a>],
        first: usize,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Option<SegmentFailure>> {
        Box::pin(async move {
            let (gate, stats, progress) = (&invocation.gate, &invocation.stats, &invocation.progress);
            let mut changes = Vec::with_capacity(records.len());
            let mut positions = Vec::with_capacity(records.len());
            let mut undecodable = None;
            for (index, record) in records.iter().enumerate() {
                let _span = record_span(record).entered();
                match self.filter.select(record, stats, || Ok(())) {
                    Ok(Some(change)) => {
                        tracing::debug!("record decoded for the batch handler");
                        changes.push(change);
                        positions.push(index);
                    }
                    Ok(None) => progress.done(first + index),
                    Err(failure) => {
                        tracing::warn!(%failure, "record failed before the batch handler; it gets the records before it");
                        undecodable = Some(SegmentFailure { index, failure });
                        break;
                    }
                }
            }
            let Some(&first_change) = positions.first() else { return undecodable };
            if gate.closed() {
                return Some(SegmentFailure { index: first_change, failure: Failure::NotStarted });
            }
            let span = tracing::info_span!("batch", changes = changes.len());
            let count = changes.len();
            let result = guarded(async { self.handler.call(changes).await }, invocation).instrument(span).await;
            match result {
                Ok(Ok(())) => {
                    stats.processed(count);
                    progress.all_done(positions.iter().map(|&p| first + p));
                    undecodable
                }
                Ok(Err(BatchFailure { index, error })) => {
                    stats.processed(index.min(count));
                    progress.all_done(positions.iter().take(index).map(|&p| first + p));
                    let at = positions.get(index).copied().unwrap_or_else(|| {
                        tracing::warn!(index, "batch handler named a change past the end; the whole batch is retried");
                        first_change
                    });
                    Some(SegmentFailure { index: at, failure: Failure::handler(error) })
                }
                Err(failure) => Some(SegmentFailure { index: first_change, failure }),
            }
        })
    }
}

impl<H, T, K> IntoRoute<()> for Batch<H, T, K>
where
    H: BatchHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    fn into_route(self, _: &States) -> Route {
        Route { inner: RouteKind::Plain(Box::new(self)) }
    }
}

/// A batch handler that takes the router's state first: `async fn(State<S>, Vec<Change<T,
/// K>>) -> Result<(), BatchFailure>`, registered directly with `Router::stream`.
impl<F, Fut, S, T, K> IntoRoute<(fn(State<S>, Vec<Change<T, K>>), S, T, K)> for F
where
    F: Fn(State<S>, Vec<Change<T, K>>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), BatchFailure>> + Send,
    S: Clone + Send + Sync + 'static,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    #[track_caller]
    fn into_route(self, states: &States) -> Route {
        let state = states.require::<S>();
        batch(move |changes: Vec<Change<T, K>>| self(State(state.clone()), changes)).into_route(states)
    }
}
