//! A route that calls its handler once per change.

use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::filter::Filter;
use super::into_route::{ErasedRoute, IntoRoute, Route, RouteKind};
use crate::change::Change;
use crate::contract::{guarded, record_span, Failure, Invocation, SegmentFailure};
use crate::error::BoxError;
use crate::handler::States;
use crate::handler::{RecordHandler, State};
use crate::payload::EventName;
use crate::payload::Record;
use std::future::Future;

/// A per-change route with optional filters; build it with [`each`].
pub struct Each<H, T, K> {
    handler: H,
    filter: Filter<T, K>,
    _types: PhantomData<fn() -> (T, K)>,
}

/// Calls `handler` once per change, in stream order.
///
/// ```
/// use ddbstream::{each, Change, EventName, Router};
/// # #[derive(serde::Deserialize)] struct Order { status: String }
/// async fn on_new_order(change: Change<Order>) -> Result<(), ddbstream::BoxError> { Ok(()) }
///
/// let router = Router::new().stream(
///     "Orders",
///     each(on_new_order)
///         .only([EventName::Insert])
///         .filter(|change| change.new_image().is_some_and(|o| o.status == "NEW")),
/// );
/// ```
pub fn each<H, T, K>(handler: H) -> Each<H, T, K>
where
    H: RecordHandler<T, K>,
{
    Each { handler, filter: Filter::default(), _types: PhantomData }
}

impl<H, T, K> Each<H, T, K> {
    /// Only these event names reach the handler; others count as processed without being
    /// decoded.
    pub fn only(mut self, events: impl IntoIterator<Item = EventName>) -> Self {
        self.filter.only(events);
        self
    }

    /// Only changes for which `predicate` holds reach the handler; others count as
    /// processed. Several filters must all hold.
    pub fn filter(mut self, predicate: impl Fn(&Change<T, K>) -> bool + Send + Sync + 'static) -> Self {
        self.filter.add(predicate);
        self
    }

    /// Logs each record's keys and images (DynamoDB JSON, as sent) at INFO, in the record's
    /// span, before its handler runs. Off by default: item contents reach the logs only
    /// from routes that ask for it.
    pub fn log_items(mut self) -> Self {
        self.filter.log_items = true;
        self
    }
}

impl<H, T, K> ErasedRoute for Each<H, T, K>
where
    H: RecordHandler<T, K>,
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
            match invocation.per_key {
                None => self.lane(records, first, (0..records.len()).collect(), invocation).await,
                Some(limit) => {
                    // Each key's records in order, keys concurrently. The lowest failed or
                    // not-started record is reported: every record before it, in every
                    // lane, was processed, so Lambda's checkpoint loses nothing.
                    let lanes = lanes_by_key(records);
                    let failures: Vec<Option<SegmentFailure>> = futures_util::stream::iter(lanes)
                        .map(|lane| self.lane(records, first, lane, invocation))
                        .buffer_unordered(limit.get())
                        .collect()
                        .await;
                    failures.into_iter().flatten().min_by_key(|failure| failure.index)
                }
            }
        })
    }
}

impl<H, T, K> Each<H, T, K>
where
    H: RecordHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    /// Runs these records (indices into `records`, in stream order) one after another,
    /// stopping at the first failure.
    async fn lane(
        &self,
        records: &[Record<'_>],
        first: usize,
        lane: Vec<usize>,
        invocation: &Invocation,
    ) -> Option<SegmentFailure> {
        for index in lane {
            let record = &records[index];
            if let Err(failure) = self.one(record, invocation).instrument(record_span(record)).await {
                return Some(SegmentFailure { index, failure });
            }
            invocation.progress.done(first + index);
        }
        None
    }

    async fn one(&self, record: &Record<'_>, invocation: &Invocation) -> Result<(), Failure> {
        let (gate, stats) = (&invocation.gate, &invocation.stats);
        let ready = || if gate.closed() { Err(Failure::NotStarted) } else { Ok(()) };
        let Some(change) = self.filter.select(record, stats, ready)? else { return Ok(()) };
        guarded(async { self.handler.call(change).await }, invocation).await?.map_err(Failure::handler)?;
        stats.processed(1);
        tracing::debug!("record processed");
        Ok(())
    }
}

/// A plain record handler is a per-change route with no filter.
impl<H, T, K> IntoRoute<(fn(Change<T, K>), T, K)> for H
where
    H: RecordHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    fn into_route(self, states: &States) -> Route {
        each(self).into_route(states)
    }
}

impl<H, T, K> IntoRoute<()> for Each<H, T, K>
where
    H: RecordHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    fn into_route(self, _: &States) -> Route {
        Route { inner: RouteKind::Plain(Box::new(self)) }
    }
}

/// A handler that takes the router's state first: `async fn(State<S>, Change<T, K>)`.
impl<F, Fut, E, S, T, K> IntoRoute<(fn(State<S>, Change<T, K>), S, T, K)> for F
where
    F: Fn(State<S>, Change<T, K>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
    S: Clone + Send + Sync + 'static,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    #[track_caller]
    fn into_route(self, states: &States) -> Route {
        let state = states.require::<S>();
        each(move |change: Change<T, K>| self(State(state.clone()), change)).into_route(states)
    }
}

/// Groups records by item key, each group in stream order. A record whose key cannot be
/// read gets a lane of its own (it fails in decoding anyway).
fn lanes_by_key(records: &[Record<'_>]) -> Vec<Vec<usize>> {
    let mut lanes: Vec<Vec<usize>> = Vec::new();
    let mut by_key: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (index, record) in records.iter().enumerate() {
        let key = record.parsed.as_ref().ok().and_then(|wire| {
            let attributes: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
                serde_json::from_str(wire.dynamodb.keys.get()).ok()?;
            Some(attributes.iter().map(|(name, value)| format!("{name}={}", value.get())).collect::<Vec<_>>().join(","))
        });
        match key {
            Some(key) => {
                let lane = *by_key.entry(key).or_insert_with(|| {
                    lanes.push(Vec::new());
                    lanes.len() - 1
                });
                lanes[lane].push(index);
            }
            None => lanes.push(vec![index]),
        }
    }
    lanes
}
