//! A route that calls its handler once per change.

use std::marker::PhantomData;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::{ErasedRoute, Filter, IntoRoute, Route};
use crate::payload::RawRecord;
use crate::process::{guarded, record_span, Deadline, Failure, SegmentFailure};
use crate::{Change, EventName, RecordHandler};

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
}

impl<H, T, K> ErasedRoute for Each<H, T, K>
where
    H: RecordHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    fn process<'a>(
        &'a self,
        records: &'a [RawRecord<'a>],
        deadline: &'a Deadline,
    ) -> BoxFuture<'a, Option<SegmentFailure>> {
        Box::pin(async move {
            for (index, record) in records.iter().enumerate() {
                let result = self.one(record, deadline).instrument(record_span(record)).await;
                if let Err(failure) = result {
                    return Some(SegmentFailure { index, failure });
                }
            }
            None
        })
    }
}

impl<H, T, K> Each<H, T, K>
where
    H: RecordHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    async fn one(&self, record: &RawRecord<'_>, deadline: &Deadline) -> Result<(), Failure> {
        if !self.filter.accepts_event(record.event_name()) {
            tracing::debug!("filtered out by event name");
            return Ok(());
        }
        if deadline.expired() {
            return Err(Failure::NotStarted);
        }
        let Some(change) = self.filter.admit(record)? else {
            tracing::debug!("filtered out by predicate");
            return Ok(());
        };
        guarded(async { self.handler.call(change).await }, deadline).await?.map_err(Failure::Handler)?;
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
    fn into_route(self) -> Route {
        each(self).into_route()
    }
}

impl<H, T, K> IntoRoute<()> for Each<H, T, K>
where
    H: RecordHandler<T, K>,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    fn into_route(self) -> Route {
        Route { inner: Box::new(self) }
    }
}
