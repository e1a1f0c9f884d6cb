//! A route over tumbling windows: folds each change into a typed state, in stream order,
//! and calls a final step once per window with the state folded over the whole window.

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use super::into_route::{ErasedWindow, IntoRoute, Route, RouteKind, WindowRun};
use crate::change::Change;
use crate::contract::{contained, guarded, record_span, Failure, Invocation, SegmentFailure};
use crate::decode::decode_record;
use crate::error::{BoxError, Error};
use crate::handler::{EndStep, States, WindowEnd, WindowEndHandler};
use crate::payload::Record;
use crate::redact::redact;
use crate::source::WindowFields;

/// The largest state a window may answer with, serialized: Lambda's limit of 1 MB.
pub const MAX_WINDOW_STATE_BYTES: usize = 1024 * 1024;

type Fold<S, T, K> = Box<dyn Fn(&mut S, Change<T, K>) -> Result<(), BoxError> + Send + Sync>;
type Bind<S> = Box<dyn FnOnce(&States) -> EndStep<S> + Send>;

/// A tumbling-window route; build it with [`window`].
pub struct Window<S, T, K> {
    fold: Fold<S, T, K>,
    bind: Bind<S>,
}

/// A route for a mapping with `TumblingWindowInSeconds`: `fold` adds each change to the
/// window's state `S`, in stream order, and `end` is called once with the window's state at
/// its final invocation.
///
/// - The state starts as `S::default()` and travels between invocations through Lambda (it
///   is answered as JSON in `state` and handed back with the window's next batch), so `S`
///   is `Serialize + DeserializeOwned`.
/// - **At most 1 MB.** AWS: "Your state can be a maximum of 1 MB per shard. If it exceeds
///   that size, Lambda terminates the window early." The framework never answers a larger
///   state: when a change would take it over [`MAX_WINDOW_STATE_BYTES`] serialized, it ends
///   the window early itself, calling `end` with the state as of the changes before it and
///   [`WindowEnd::terminated_early`] set, then goes on in the same window with a fresh state
///   from that change (as Lambda's next invocation after an early end does). A change that
///   alone makes a fresh state too large fails as the batch's failure.
/// - A change whose fold fails (an error or a panic), or that does not decode, is reported
///   as the batch's failure and the answer carries the state as of the changes before it:
///   Lambda retries from that change with that state. The state is cloned before each
///   change so that a failed fold leaves it as it was.
/// - `fold` is synchronous and should depend only on the state and the change: a retried
///   batch folds its changes again. Side effects belong in `end`, which must be idempotent
///   (Lambda calls it again if its answer is lost). An `end` that fails, or outlives the
///   deadline margin, fails the invocation: Lambda retries the final batch with the state it
///   started with, and the shard waits until it succeeds.
///
/// Register it like any route; a stream may have a plain route and a window route, and the
/// event's shape picks one:
///
/// ```
/// use ddbstream::{window, BoxError, Change, Router, WindowEnd};
/// # #[derive(serde::Deserialize)] struct Order { amount: i64 }
///
/// #[derive(Clone, Default, serde::Serialize, serde::Deserialize)]
/// struct Totals {
///     orders: u64,
///     amount: i64,
/// }
///
/// fn add(totals: &mut Totals, change: Change<Order>) -> Result<(), BoxError> {
///     if let Some(order) = change.new_image() {
///         totals.orders += 1;
///         totals.amount += order.amount;
///     }
///     Ok(())
/// }
///
/// async fn write_totals(end: WindowEnd<Totals>) -> Result<(), BoxError> {
///     println!("{} to {}: {} orders", end.start, end.end, end.state.orders);
///     Ok(())
/// }
///
/// let router = Router::new().stream("Orders", window(add, write_totals));
/// ```
pub fn window<S, T, K, F, E, H, M>(fold: F, end: H) -> Window<S, T, K>
where
    F: Fn(&mut S, Change<T, K>) -> Result<(), E> + Send + Sync + 'static,
    E: Into<BoxError>,
    H: WindowEndHandler<S, M>,
{
    Window {
        fold: Box::new(move |state, change| fold(state, change).map_err(Into::into)),
        bind: Box::new(move |states| end.bind(states)),
    }
}

impl<S, T, K> IntoRoute<()> for Window<S, T, K>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    #[track_caller]
    fn into_route(self, states: &States) -> Route {
        let route = BoundWindow { fold: self.fold, end: (self.bind)(states) };
        Route { inner: RouteKind::Window(Box::new(route)) }
    }
}

struct BoundWindow<S, T, K> {
    fold: Fold<S, T, K>,
    end: EndStep<S>,
}

impl<S, T, K> ErasedWindow for BoundWindow<S, T, K>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    fn fold<'a>(
        &'a self,
        records: &'a [Record<'a>],
        window: &'a WindowFields<'a>,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<WindowRun, Error>> {
        Box::pin(async move {
            let incoming = incoming::<S>(window)?;
            let mut state = contained(|| incoming.clone()).map_err(state_panicked)?;
            let mut failure = None;
            let mut folded = records.len();
            for (index, record) in records.iter().enumerate() {
                let span = record_span(record);
                if let Err(cause) = span.in_scope(|| self.one(&mut state, record, invocation)) {
                    failure = Some(SegmentFailure { index, failure: cause });
                    folded = index;
                    break;
                }
                invocation.progress.done(index);
            }
            // The size is checked before any final step runs, so that a retry never repeats
            // one for a state that could not be answered.
            let mut answer = outgoing(&state)?;
            if answer.1 > MAX_WINDOW_STATE_BYTES {
                let (segment, segment_failure) =
                    self.end_early(incoming, &records[..folded], window, invocation).await?;
                state = segment;
                failure = segment_failure.or(failure);
                answer = outgoing(&state)?;
            }
            if failure.is_none() && window.is_final {
                self.finish(&state, window, window.terminated_early, invocation).await?;
            }
            Ok(WindowRun { failure, state: answer.0 })
        })
    }
}

impl<S, T, K> BoundWindow<S, T, K>
where
    S: Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static,
    T: DeserializeOwned + Send + 'static,
    K: DeserializeOwned + Send + 'static,
{
    /// Folds one record; on failure the state is as it was before it.
    fn one(&self, state: &mut S, record: &Record<'_>, invocation: &Invocation) -> Result<(), Failure> {
        if invocation.gate.closed() {
            return Err(Failure::NotStarted);
        }
        let change = contained(|| decode_record::<T, K>(record))?.map_err(Failure::Decode)?;
        let started = std::time::Instant::now();
        let before = contained(|| state.clone())?;
        let folded = contained(|| (self.fold)(state, change));
        invocation.stats.handler_time(started.elapsed());
        match folded {
            Ok(Ok(())) => {
                invocation.stats.processed(1);
                tracing::debug!("change folded into the window's state");
                Ok(())
            }
            Ok(Err(error)) => {
                *state = before;
                Err(Failure::handler(error))
            }
            Err(panic) => {
                *state = before;
                Err(panic)
            }
        }
    }

    /// Folds `records` again from `incoming`, ending the window early (the final step, with
    /// `terminated_early`) before each change that would take the state over the limit and
    /// going on from that change with a fresh state: the state to answer, and the failure of
    /// a change that alone is too large. Folds are functions of the state and the change, so
    /// folding again gives what the first pass gave, up to the limit.
    async fn end_early(
        &self,
        incoming: S,
        records: &[Record<'_>],
        window: &WindowFields<'_>,
        invocation: &Invocation,
    ) -> Result<(S, Option<SegmentFailure>), Error> {
        let mut state = incoming;
        for (index, record) in records.iter().enumerate() {
            let before = contained(|| state.clone()).map_err(state_panicked)?;
            let failed = |failure| Ok((before.clone(), Some(SegmentFailure { index, failure })));
            if let Err(failure) = self.refold(&mut state, record) {
                return failed(failure);
            }
            if outgoing(&state)?.1 <= MAX_WINDOW_STATE_BYTES {
                continue;
            }
            tracing::warn!(
                start = %window.window.start,
                shard_id = %window.shard_id,
                "the window's state would exceed 1 MB: the window ends early here and goes on with a fresh state"
            );
            self.finish(&before, window, true, invocation).await?;
            state = contained(S::default).map_err(state_panicked)?;
            if let Err(failure) = self.refold(&mut state, record) {
                return Ok((contained(S::default).map_err(state_panicked)?, Some(SegmentFailure { index, failure })));
            }
            let alone = outgoing(&state)?.1;
            if alone > MAX_WINDOW_STATE_BYTES {
                let error = format!(
                    "this change alone makes the window's state {alone} bytes serialized, over Lambda's limit of \
                     {MAX_WINDOW_STATE_BYTES}: keep less in it (aggregates, not the changes themselves)"
                );
                let fresh = contained(S::default).map_err(state_panicked)?;
                return Ok((fresh, Some(SegmentFailure { index, failure: Failure::handler(error.into()) })));
            }
        }
        Ok((state, None))
    }

    /// Folds one record again (its stats were counted on the first pass).
    fn refold(&self, state: &mut S, record: &Record<'_>) -> Result<(), Failure> {
        let change = contained(|| decode_record::<T, K>(record))?.map_err(Failure::Decode)?;
        contained(|| (self.fold)(state, change))?.map_err(Failure::handler)
    }

    /// The window's final step, with the state folded over the whole window (or, ended early,
    /// over its part so far).
    async fn finish(
        &self,
        state: &S,
        window: &WindowFields<'_>,
        terminated_early: bool,
        invocation: &Invocation,
    ) -> Result<(), Error> {
        if invocation.gate.closed() {
            return Err(Error::Window(
                "the deadline margin was reached before the window's final step ran; Lambda retries the final \
                 invocation"
                    .into(),
            ));
        }
        let end = WindowEnd {
            state: contained(|| state.clone()).map_err(|panic| Error::Window(format!("the state's clone: {panic}")))?,
            start: window.window.start.clone(),
            end: window.window.end.clone(),
            shard_id: window.shard_id.clone(),
            event_source_arn: window.event_source_arn.clone(),
            terminated_early,
        };
        let span = tracing::info_span!("window_end", start = %end.start, shard_id = %end.shard_id);
        let outcome = guarded(async { (self.end)(end).await }, invocation).instrument(span).await;
        let failure = match outcome {
            Ok(Ok(())) => {
                tracing::info!(start = %window.window.start, shard_id = %window.shard_id, "window ended");
                return Ok(());
            }
            Ok(Err(error)) => Failure::handler(error),
            Err(failure) => failure,
        };
        Err(Error::Window(format!(
            "the window's final step failed ({failure}); Lambda retries the final invocation with the state it \
             started with"
        )))
    }
}

/// The state the window's previous invocation answered with, or `S::default()` at its start.
fn incoming<S: DeserializeOwned + Default>(window: &WindowFields<'_>) -> Result<S, Error> {
    let Some(raw) = window.incoming_state() else { return contained(S::default).map_err(state_panicked) };
    contained(|| serde_json::from_str::<S>(raw.get())).map_err(state_panicked)?.map_err(|err| {
        Error::Window(format!(
            "the window's incoming state does not decode as `{}` ({}): was the state type changed while a window \
             was open?",
            std::any::type_name::<S>(),
            redact(&err.to_string())
        ))
    })
}

/// The state to answer with, and its size serialized.
fn outgoing<S: Serialize>(state: &S) -> Result<(serde_json::Value, usize), Error> {
    let value = contained(|| serde_json::to_value(state)).map_err(state_panicked)?.map_err(|err| {
        Error::Window(format!("the window's state does not serialize ({})", redact(&err.to_string())))
    })?;
    let mut size = ByteCount(0);
    serde_json::to_writer(&mut size, &value)
        .map_err(|err| Error::Window(format!("the window's state does not serialize ({err})")))?;
    Ok((value, size.0))
}

fn state_panicked(failure: Failure) -> Error {
    Error::Window(format!("the window's state code panicked: {failure}"))
}

/// A writer that only counts.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
