//! The supervisor: runs an invocation's records in a task of their own and answers by the
//! deadline margin, whether or not a handler has given its thread back.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tracing::instrument::WithSubscriber;
use tracing::Instrument;

use super::segments::Outcome;
use super::segments::{outcome_so_far, process};
use crate::contract::{Failure, Invocation, Isolation, Slot};
use crate::error::Error;
use crate::route::RouteTable;

/// How long after the margin the supervisor waits for the records' own answer (which
/// names why the record failed) before answering from their progress: a quarter of the
/// margin, at most 250 ms, so the answer still leaves Lambda most of the margin.
fn grace(margin: Duration) -> Duration {
    (margin / 4).min(Duration::from_millis(250))
}

/// Processes `payload` with the routes of `table`.
///
/// The records run in a task of their own on the caller's runtime, with the router's
/// handler runtime as the handlers' current runtime. The answer comes from that task when
/// it ends by the margin (plus [`grace`]); if it has not (a handler blocks its thread), the
/// answer names the first record not done, the task is told to start nothing more, and it
/// counts as abandoned work until it ends. Any abandonment retires the invocation's handler
/// runtime (`slot`), so nothing the abandoned attempt started can run alongside, or after,
/// the redelivery; and no invocation starts a record while such work is still running.
pub(crate) async fn supervise(
    table: Arc<RouteTable>,
    payload: Bytes,
    invocation: Arc<Invocation>,
    margin: Duration,
    isolation: &Isolation,
    slot: &mut Slot<'_>,
) -> Result<Outcome, Error> {
    let cutoff = invocation.gate.cutoff();
    if !isolation.is_settled() {
        tracing::warn!("work abandoned by an earlier invocation is still running: no record starts until it ends");
        let settled = match cutoff {
            None => {
                isolation.settled().await;
                true
            }
            Some(cutoff) => tokio::time::timeout_at(cutoff, isolation.settled()).await.is_ok(),
        };
        if !settled {
            tracing::error!("abandoned work still running at the deadline margin: no record of this batch starts");
            invocation.gate.stop();
            isolation.stuck();
        }
    }

    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // No tokio runtime to run a task on (a test driving the router with another
        // executor): the records run inline.
        return process(&table, &payload, &invocation).await;
    };
    // If this future is dropped (a caller giving up on the invocation), its records stop too.
    let mut worker = runtime.spawn({
        let (payload, invocation) = (payload.clone(), Arc::clone(&invocation));
        async move { process(&table, &payload, &invocation).await }.in_current_span().with_current_subscriber()
    });
    let mut abort_on_drop = AbortOnDrop(Some(worker.abort_handle()));
    let margin_passed = async {
        match cutoff {
            None => std::future::pending().await,
            Some(cutoff) => tokio::time::sleep_until(cutoff + grace(margin)).await,
        }
    };
    let finished = tokio::select! {
        finished = &mut worker => Some(finished),
        () = margin_passed => None,
        () = invocation.control.abandoned() => None,
    };
    let outcome = match finished {
        Some(Ok(outcome)) => outcome,
        Some(Err(error)) => {
            // The records' task itself failed: only a bug in the framework gets here, as
            // user code runs contained. Answer from its progress.
            tracing::error!(%error, "the task running the records failed");
            invocation.gate.stop();
            outcome_so_far(&payload, &invocation, Failure::Panic(error.to_string()))
        }
        None => {
            if cutoff.is_none_or(|cutoff| tokio::time::Instant::now() < cutoff) {
                tracing::warn!("records in flight abandoned by the caller: answering without them; no record starts until they end");
            } else {
                tracing::error!(
                    "a handler is still holding its thread at the deadline margin: answering without it; no record \
                     starts until it ends"
                );
            }
            invocation.gate.stop();
            invocation.progress.abandoned_work();
            worker.abort();
            abort_on_drop.0 = None;
            isolation.watch(worker);
            outcome_so_far(&payload, &invocation, Failure::Abandoned)
        }
    };
    if invocation.progress.was_abandoned() {
        slot.retire();
    }
    outcome
}

/// Aborts a task when dropped, unless disarmed.
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
