//! Serving: the router on the Lambda runtime.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use lambda_runtime::tower::{Layer, Service};
use lambda_runtime::{service_fn, LambdaEvent, LambdaInvocation};

use crate::error::Error;
use crate::router::Router;

/// The environment variable that sets the deadline margin in milliseconds, so a deployment
/// can match it to the function's timeout.
pub const DEADLINE_MARGIN_ENV: &str = "DDBSTREAM_DEADLINE_MARGIN_MS";

/// How long, after answering, stuck abandoned work may take to end before the process exits.
const ABANDONED_WORK_WAIT: Duration = Duration::from_millis(200);

impl Router {
    /// Serves the router on the Lambda runtime until the process ends.
    ///
    /// When `AWS_LAMBDA_MAX_CONCURRENCY` is above 1 (Lambda Managed Instances), that many
    /// invocations are served at once (the runtime crate's concurrent mode), each with its
    /// own deadline, span, metrics line and handler runtime; the router and its states are
    /// shared between them, so a state must be safe to use from several invocations at once
    /// (SDK clients are). Otherwise invocations are served one at a time.
    ///
    /// The event's bytes go to the router as the Runtime API sent them (the runtime crate
    /// neither parses nor copies them first), so the router decides what is malformed,
    /// record by record, in one read of the payload. `DDBSTREAM_DEADLINE_MARGIN_MS` sets the deadline margin unless
    /// [`deadline_margin`](Self::deadline_margin) did.
    ///
    /// `DDBSTREAM_METRICS_NAMESPACE` turns on [`metrics`](Self::metrics) unless they are on.
    ///
    /// Work an abandoned handler started (a thread it holds, blocking work, spawned tasks)
    /// is stopped or waited for before the next record starts, as under
    /// [`handle`](Self::handle). If it is still running at the margin of a later
    /// invocation, which therefore started nothing, the process exits once that answer is
    /// sent, as Lambda's own timeout would have ended the sandbox: the redelivery runs in a
    /// fresh one (with invocations served at once, the others in flight end with it, and
    /// Lambda retries them: nothing they did not finish was acknowledged). At start-up it warns when the runtime cannot answer by the margin while a
    /// handler blocks its thread (a current-thread runtime, or one worker thread).
    pub async fn run(mut self) -> Result<(), lambda_runtime::Error> {
        if self.deadline_margin.is_none() {
            self.deadline_margin = margin_from_env()?;
        }
        if self.metrics.is_none() {
            if let Some(namespace) = std::env::var(crate::metrics::METRICS_NAMESPACE_ENV).ok().filter(|n| !n.is_empty())
            {
                self = self.metrics(namespace);
            }
        }
        warn_if_blocking_can_delay_the_answer();
        let router = Arc::new(self);
        let service = service_fn({
            let router = Arc::clone(&router);
            move |event: LambdaEvent<()>| {
                let router = Arc::clone(&router);
                async move {
                    let payload = RAW_BODY
                        .try_with(Bytes::clone)
                        .map_err(|_| Error::Config("internal: the invocation's body was not handed over".to_owned()))?;
                    router.handle_bytes(payload, &event.context).await
                }
            }
        });
        lambda_runtime::Runtime::new(service)
            .layer(lambda_runtime::layers::TracingLayer::new())
            .layer(ExitOnAbandonedWork { router })
            .layer(RawBody)
            .run_concurrent()
            .await
    }
}

tokio::task_local! {
    /// The invocation's body exactly as the Runtime API sent it.
    static RAW_BODY: Bytes;
}

/// Hands the invocation's body to the router as the Runtime API sent it: the runtime crate
/// would otherwise parse all of it (up to 6 MB) into its payload type and copy it before the
/// router reads it again. The runtime gets `null` to read instead, and the router the
/// original bytes, shared, not copied, through a task-local scoped to the invocation.
#[derive(Clone)]
struct RawBody;

impl<S> Layer<S> for RawBody {
    type Service = RawBodyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RawBodyService { inner }
    }
}

#[derive(Clone)]
struct RawBodyService<S> {
    inner: S,
}

impl<S: Service<LambdaInvocation>> Service<LambdaInvocation> for RawBodyService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = tokio::task::futures::TaskLocalFuture<Bytes, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut invocation: LambdaInvocation) -> Self::Future {
        let body = std::mem::replace(&mut invocation.body, Bytes::from_static(b"null"));
        RAW_BODY.scope(body, self.inner.call(invocation))
    }
}

/// Warns, once at start-up, when a handler that blocks its thread could hold the answer
/// past the deadline: only a multi-thread runtime with two or more workers can answer
/// while one of its threads is held.
pub(crate) fn warn_if_blocking_can_delay_the_answer() {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    let multi_thread = runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread;
    if !multi_thread || runtime.metrics().num_workers() < 2 {
        tracing::warn!(
            "this tokio runtime has a single thread: a handler that blocks it (std::thread::sleep, a long CPU \
             loop) delays the answer past the deadline margin; use a multi-thread runtime (the default of \
             #[tokio::main]) with two or more workers"
        );
    }
}

/// After each answer has been sent: if abandoned work kept that invocation from starting any
/// record and is still running, wait a little, then exit the process.
#[derive(Clone)]
struct ExitOnAbandonedWork {
    router: Arc<Router>,
}

impl<S> Layer<S> for ExitOnAbandonedWork {
    type Service = ExitOnAbandonedWorkService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExitOnAbandonedWorkService { inner, router: Arc::clone(&self.router) }
    }
}

#[derive(Clone)]
struct ExitOnAbandonedWorkService<S> {
    inner: S,
    router: Arc<Router>,
}

impl<S> Service<LambdaInvocation> for ExitOnAbandonedWorkService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = lambda_runtime::Error>,
{
    type Response = ();
    type Error = lambda_runtime::Error;
    type Future = AfterAnswer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        AfterAnswer { answer: Box::pin(self.inner.call(invocation)), router: Arc::clone(&self.router), check: None }
    }
}

type Check = Pin<Box<dyn Future<Output = Result<(), lambda_runtime::Error>> + Send>>;

/// Sends the answer (the inner future), then checks for abandoned work.
struct AfterAnswer<F> {
    answer: Pin<Box<F>>,
    router: Arc<Router>,
    check: Option<Check>,
}

impl<F: Future<Output = Result<(), lambda_runtime::Error>>> Future for AfterAnswer<F> {
    type Output = Result<(), lambda_runtime::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if let Some(check) = this.check.as_mut() {
                return check.as_mut().poll(cx);
            }
            let answered = ready!(this.answer.as_mut().poll(cx));
            let router = Arc::clone(&this.router);
            this.check = Some(Box::pin(async move {
                if router.has_stuck_work()
                    && tokio::time::timeout(ABANDONED_WORK_WAIT, router.abandoned_work_ended()).await.is_err()
                {
                    tracing::error!(
                        "work started by an abandoned handler outlasted a whole invocation: exiting, as Lambda's \
                         timeout would, so that the redelivered records run in a fresh sandbox"
                    );
                    std::process::exit(1);
                }
                answered
            }));
        }
    }
}

fn margin_from_env() -> Result<Option<Duration>, Error> {
    match std::env::var(DEADLINE_MARGIN_ENV) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Ok(text) => text
            .trim()
            .parse::<u64>()
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| Error::Config(format!("{DEADLINE_MARGIN_ENV}={text:?} is not a number of milliseconds"))),
        Err(err) => Err(Error::Config(format!("{DEADLINE_MARGIN_ENV}: {err}"))),
    }
}
