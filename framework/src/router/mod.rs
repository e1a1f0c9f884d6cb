//! The router: one route per stream, an optional fallback, the options that govern a batch,
//! one batch in and its answer out; `serve` runs it on the Lambda runtime.

pub(crate) mod serve;

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::Context;
use serde::Serialize;
use tracing::Instrument;

use crate::contract::{Control, Failure, FirstFailure, Invocation, Isolation, StartGate};
use crate::error::Error;
use crate::metrics::{emf, to_stdout, MetricsConfig, Stats, Summary};
use crate::payload::StreamArn;
use crate::process::{supervise, Outcome};
use crate::response::{respond, BatchResponse};
use crate::route::{IntoRoute, RouteKind, RouteTable};

/// The default time kept in hand before the invocation deadline: records stop starting,
/// and a running handler is abandoned, this long before Lambda would time out.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(1);

/// Routes each record of a DynamoDB Streams batch to the handler registered for its stream,
/// in stream order, and reports the first failure by sequence number.
///
/// ```
/// use ddbstream::{Change, Router};
/// # #[derive(serde::Deserialize)] struct Order {}
/// # #[derive(serde::Deserialize)] struct Customer {}
/// async fn on_order(change: Change<Order>) -> Result<(), ddbstream::BoxError> { Ok(()) }
/// async fn on_customer(change: Change<Customer>) -> Result<(), ddbstream::BoxError> { Ok(()) }
///
/// let router = Router::new()
///     .stream("Orders", on_order)
///     .stream("arn:aws:dynamodb:eu-west-1:123456789012:table/Customers/stream/2024-01-01T00:00:00.000", on_customer);
/// ```
pub struct Router {
    table: Arc<RouteTable>,
    isolation: Isolation,
    deadline_margin: Option<Duration>,
    error_when_nothing_processed: bool,
    per_key: Option<NonZeroUsize>,
    metrics: Option<MetricsConfig>,
}

impl Default for Router {
    fn default() -> Self {
        Self::new()
    }
}

impl Router {
    /// Where its metrics go, if it emits them (the runner's progress lines go there too).
    #[cfg_attr(not(feature = "runner"), allow(dead_code))]
    pub(crate) fn metrics_config(&self) -> Option<&MetricsConfig> {
        self.metrics.as_ref()
    }

    /// A router with no routes.
    pub fn new() -> Self {
        Self {
            table: Arc::default(),
            isolation: Isolation::default(),
            deadline_margin: None,
            error_when_nothing_processed: false,
            per_key: None,
            metrics: None,
        }
    }

    /// Registers the handler for one stream, named by its table (`"Orders"`) or by its
    /// full stream ARN (`"arn:aws:dynamodb:...:table/Orders/stream/..."`). An ARN route wins
    /// over a table route for the same stream.
    ///
    /// A stream may have one plain route and one [`window`](crate::window) route: a
    /// tumbling window's event goes to the window route, any other to the plain one.
    ///
    /// # Panics
    /// If the stream already has a route of that kind (one stream, one handler), or if it starts with
    /// `arn:` but is not a stream ARN (a table ARN would never match a record).
    #[track_caller]
    pub fn stream<M>(mut self, stream: &str, route: impl IntoRoute<M>) -> Self {
        assert!(
            !stream.starts_with("arn:") || StreamArn::parse(stream).is_some(),
            "`{stream}` is not a stream ARN (arn:aws:dynamodb:<region>:<account>:table/<table>/stream/<label>); \
             name the table instead to route every stream of it"
        );
        let table = Arc::make_mut(&mut self.table);
        let route = route.into_route(&table.states);
        let kind = if stream.starts_with("arn:") { "ARN" } else { "table" };
        let what = if matches!(route.inner, RouteKind::Plain(_)) { "a route" } else { "a window route" };
        let (names, index) = table.register(route.inner);
        assert!(
            names.add(stream, index),
            "stream {kind} `{stream}` already has {what}: register one handler per stream"
        );
        self
    }

    /// Registers the handler for records of every stream that has no route of its own.
    /// Without a fallback such a batch fails as a whole.
    ///
    /// A router may have one plain fallback and one [`window`](crate::window) fallback.
    ///
    /// # Panics
    /// If a fallback of that kind is already registered.
    #[track_caller]
    pub fn fallback<M>(mut self, route: impl IntoRoute<M>) -> Self {
        let table = Arc::make_mut(&mut self.table);
        let route = route.into_route(&table.states);
        let (names, index) = table.register(route.inner);
        assert!(names.fallback.replace(index).is_none(), "the router already has a fallback route of this kind");
        self
    }

    /// Registers shared state (SDK clients, table names, settings) for the routes
    /// registered after it: a handler takes it as its first argument, `State<S>`, and gets
    /// a clone per call. One state per type; registering a type again replaces it for the
    /// routes that follow.
    ///
    /// ```
    /// use ddbstream::{BoxError, Change, Item, Router, State};
    ///
    /// #[derive(Clone)]
    /// struct Tables {
    ///     stats: String,
    /// }
    ///
    /// async fn on_like(State(tables): State<Tables>, change: Change<Item>) -> Result<(), BoxError> {
    ///     tracing::info!(table = %tables.stats, seq = %change.sequence_number(), "like");
    ///     Ok(())
    /// }
    ///
    /// let router = Router::new().with_state(Tables { stats: "PostStats".into() }).stream("Likes", on_like);
    /// ```
    pub fn with_state<S: Clone + Send + Sync + 'static>(mut self, state: S) -> Self {
        Arc::make_mut(&mut self.table).states.insert(state);
        self
    }

    /// How long before the invocation deadline to stop: no record starts after that, a
    /// handler still running then is abandoned, and its record is reported. Default
    /// [`DEFAULT_DEADLINE_MARGIN`], or `DDBSTREAM_DEADLINE_MARGIN_MS` when run on Lambda.
    pub fn deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = Some(margin);
        self
    }

    /// Writes one CloudWatch Embedded Metric Format line per invocation to stdout, in
    /// `namespace`, with dimensions `function` and `table`: `RecordsReceived`,
    /// `RecordsProcessed` (handled successfully), `RecordsFailed` (the reported record's
    /// handler failed, panicked or was abandoned), `RecordsFiltered`, `RecordsUndecodable`
    /// (the reported record did not decode), `HandlerDuration` (ms in handlers) and
    /// `IteratorAge` (ms from the oldest record's `ApproximateCreationDateTime` to now).
    /// Off by default; `DDBSTREAM_METRICS_NAMESPACE` turns it on under `run`.
    pub fn metrics(self, namespace: impl Into<String>) -> Self {
        self.metrics_to(namespace, to_stdout)
    }

    /// As [`metrics`](Self::metrics), handing each EMF line to `sink` instead of stdout.
    pub fn metrics_to(mut self, namespace: impl Into<String>, sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.metrics = Some(MetricsConfig { namespace: namespace.into(), sink: std::sync::Arc::new(sink) });
        self
    }

    /// Runs records of different item keys concurrently, at most `limit` keys at once;
    /// records of one key stay strictly in stream order. On a failure, that key's later
    /// records are not started, other keys go on, and the response names the lowest failed
    /// or not-started record, so Lambda's checkpoint loses nothing (records of other keys
    /// after it are redelivered: handlers must be idempotent, as always with Lambda).
    /// Applies to per-change routes; batch handlers get their batch as before. Off by
    /// default; `0` or `1` means in order.
    pub fn per_key_concurrency(mut self, limit: usize) -> Self {
        self.per_key = NonZeroUsize::new(limit).filter(|limit| limit.get() > 1);
        self
    }

    /// When the first record of a batch fails (so nothing was processed), return an
    /// invocation error instead of a partial response. Lambda then counts a function error,
    /// which is what lets `BisectBatchOnFunctionError` split the batch. Off by default.
    pub fn error_when_nothing_processed(mut self, enabled: bool) -> Self {
        self.error_when_nothing_processed = enabled;
        self
    }

    /// Processes a payload as Lambda would deliver it: the raw event bytes and the
    /// invocation's context. This is what [`run`](Self::run) calls; tests call it directly.
    ///
    /// A context deadline of 0 (as in `Context::default()`) means no deadline.
    ///
    /// On a multi-thread tokio runtime the answer comes by the deadline margin even when a
    /// handler blocks its thread; on a current-thread runtime it cannot (the handler holds
    /// the only thread). Work an abandoned handler started, spawned tasks and blocking work
    /// included, is stopped or waited for before any record of this router starts again.
    pub async fn handle(&self, payload: &[u8], context: &Context) -> Result<BatchResponse, Error> {
        self.handle_bytes(bytes::Bytes::copy_from_slice(payload), context).await
    }

    /// As [`handle`](Self::handle), with a payload the router keeps instead of copying: what
    /// [`run`](Self::run) calls with the bytes the Runtime API sent.
    pub async fn handle_bytes(&self, payload: bytes::Bytes, context: &Context) -> Result<BatchResponse, Error> {
        self.handle_reporting(payload, context).await.map(|(response, _)| response)
    }

    /// As [`handle_bytes`](Self::handle_bytes), with the record the batch stopped at (its
    /// position among the payload's records, and why it failed), for callers that keep it.
    pub(crate) async fn handle_reporting(
        &self,
        payload: bytes::Bytes,
        context: &Context,
    ) -> Result<(BatchResponse, Option<FirstFailure>), Error> {
        self.handle_controlled(payload, context, Control::default()).await
    }

    /// As [`handle_reporting`](Self::handle_reporting), steered by `control` while it runs
    /// (the runner: stop at a lost lease or a stop request, checkpoint on a timer).
    pub(crate) async fn handle_controlled(
        &self,
        payload: bytes::Bytes,
        context: &Context,
        control: Control,
    ) -> Result<(BatchResponse, Option<FirstFailure>), Error> {
        let span = tracing::info_span!("invocation", request_id = %context.request_id, deadline_ms = context.deadline);
        async {
            let margin = self.deadline_margin.unwrap_or(DEFAULT_DEADLINE_MARGIN);
            let gate = StartGate::new(context.deadline, margin);
            if gate.closed() {
                // Lambda starts every invocation with its whole timeout: no time at the start
                // means the margin is set at or above the timeout, and no record would ever run.
                let error = Error::Config(format!(
                    "the deadline margin ({} ms) leaves no time in this invocation: set {} below the function timeout",
                    margin.as_millis(),
                    crate::router::serve::DEADLINE_MARGIN_ENV
                ));
                tracing::error!(%error);
                return Err(error);
            }
            // A handler runtime of this invocation's own, so that invocations served at once
            // cannot cancel each other's work when one is abandoned.
            let mut slot = self.isolation.checkout();
            let invocation = Arc::new(Invocation {
                gate: gate.steered_by(&control),
                per_key: self.per_key,
                stats: Stats::new(),
                progress: Arc::clone(&control.progress),
                handlers: slot.handle(),
                control,
            });
            let table = Arc::clone(&self.table);
            let outcome =
                supervise(table, payload, Arc::clone(&invocation), margin, &self.isolation, &mut slot).await?;
            if let Some(metrics) = &self.metrics {
                emit(metrics, &outcome, &invocation.stats, context);
            }
            let failure = match &outcome {
                Outcome::Stopped { record, failure, .. } => Some(FirstFailure::of(record.position, failure)),
                Outcome::Completed { .. } => None,
            };
            respond(outcome, self.error_when_nothing_processed).map(|response| (response, failure))
        }
        .instrument(span)
        .await
    }

    /// Processes an event given as a value (an `aws_lambda_events` event, a
    /// `serde_json::Value`, a test kit's event): serialized, then handled as by
    /// [`handle`](Self::handle).
    pub async fn handle_event<E: Serialize>(&self, event: &E, context: &Context) -> Result<BatchResponse, Error> {
        let payload = serde_json::to_vec(event)
            .map_err(|err| Error::NotAStreamEvent(format!("the event does not serialize: {err}")))?;
        self.handle(&payload, context).await
    }

    /// Whether work that an abandoned handler started is still running after it kept a
    /// whole invocation from starting any record.
    pub(crate) fn has_stuck_work(&self) -> bool {
        self.isolation.is_stuck()
    }

    /// Waits until work that abandoned handlers started has ended.
    pub(crate) async fn abandoned_work_ended(&self) {
        self.isolation.settled().await;
    }
}

/// One EMF line for an invocation that got as far as a response.
fn emit(metrics: &MetricsConfig, outcome: &Outcome, stats: &Stats, context: &Context) {
    let function = match context.env_config.function_name.as_str() {
        "" => std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "unknown".to_owned()),
        name => name.to_owned(),
    };
    let (failed, undecodable) = match outcome {
        Outcome::Completed { .. } => (false, false),
        Outcome::Stopped { failure: Failure::Decode(_), .. } => (false, true),
        Outcome::Stopped { failure: Failure::NotStarted, .. } => (false, false),
        Outcome::Stopped { .. } => (true, false),
    };
    let line = emf(
        &metrics.namespace,
        &Summary { function: &function, failed, undecodable },
        stats,
        std::time::SystemTime::now(),
    );
    (metrics.sink)(&line.to_string());
}
