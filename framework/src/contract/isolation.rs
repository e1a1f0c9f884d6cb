//! Where handlers' own work runs: a runtime the router owns, so that work an abandoned
//! handler started can be stopped, or waited for, before its record is tried again.
//!
//! Lambda ends a timed-out invocation by freezing and discarding its sandbox: nothing the
//! handler started survives. Inside one process the framework cannot kill a thread, so it
//! does the next best thing, exactly: while a handler is polled, the router's handler
//! runtime is the current runtime, so every task it spawns (`tokio::spawn`) and all its
//! blocking work (`tokio::task::spawn_blocking`) live there, with the timers and sockets
//! they use. When a handler is abandoned at the deadline margin that runtime is retired:
//! its tasks are cancelled, its blocking work is waited for on a thread of its own, and no
//! record of this router starts until everything it held has stopped.
//!
//! Invocations served at once (Lambda Managed Instances) each take a handler runtime of
//! their own from a pool, so one invocation's abandonment retires only its own runtime and
//! never cancels the work of another still running.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::SystemTime;
use std::{future::Future, pin::Pin};

use tokio::runtime::{Handle, Runtime};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::replay::{self, Redrive};

/// The router's handler runtimes not in use, and what is left of retired ones.
#[derive(Default)]
pub(crate) struct Isolation {
    idle: Mutex<Vec<Runtime>>,
    stopping: Arc<Stopping>,
    warned_paused: AtomicBool,
}

/// One invocation's hold on a handler runtime: back to the pool when dropped, unless
/// retired.
pub(crate) struct Slot<'a> {
    isolation: &'a Isolation,
    runtime: Option<Runtime>,
}

impl Slot<'_> {
    /// The runtime this invocation's handlers are polled in; `None` means the caller's.
    pub(crate) fn handle(&self) -> Option<Handle> {
        self.runtime.as_ref().map(|runtime| runtime.handle().clone())
    }

    /// Retires this invocation's handler runtime after an abandonment: its tasks are
    /// cancelled and its blocking work runs to its end on a thread of its own; until then
    /// [`settled`](Isolation::settled) waits. Other invocations' runtimes are untouched.
    pub(crate) fn retire(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        let stopping = Arc::clone(&self.isolation.stopping);
        stopping.count.fetch_add(1, Ordering::AcqRel);
        let dropper = std::thread::Builder::new().name("ddbstream-retire".into()).spawn({
            let stopping = Arc::clone(&stopping);
            move || {
                // Dropping a runtime cancels its tasks and waits for its worker and blocking
                // threads: exactly "everything the abandoned attempt started has stopped".
                drop(runtime);
                stopping.release();
            }
        });
        if let Err(error) = dropper {
            tracing::error!(%error, "could not start a thread to retire the handler runtime");
            stopping.release();
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            self.isolation.idle.lock().unwrap_or_else(PoisonError::into_inner).push(runtime);
        }
    }
}

/// Work of abandoned attempts that has not stopped yet.
#[derive(Default)]
struct Stopping {
    count: AtomicUsize,
    notify: Notify,
    /// That work outlasted a whole later invocation, which could start nothing; cleared
    /// once all of it has stopped.
    stuck: AtomicBool,
}

impl Stopping {
    fn release(&self) {
        if self.count.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.stuck.store(false, Ordering::Release);
        }
        self.notify.notify_waiters();
    }
}

impl Isolation {
    /// A handler runtime for one invocation: an idle one, or one built now. Without one
    /// handlers run on the caller's runtime: when its clock is paused (a test under
    /// `start_paused`, whose handlers' timers must follow that clock), or when no runtime
    /// could be built.
    pub(crate) fn checkout(&self) -> Slot<'_> {
        if clock_is_paused() {
            if !self.warned_paused.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "the runtime's clock is paused (a test): handlers run on it, so work an abandoned handler \
                     spawned is not stopped before its record is retried"
                );
            }
            return Slot { isolation: self, runtime: None };
        }
        let idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let runtime = idle.or_else(|| {
            let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("ddbstream-handlers")
                .enable_all()
                .build()
                .inspect_err(|error| {
                    tracing::error!(%error, "could not build a handler runtime; handlers run on the caller's");
                })
                .ok()
        });
        Slot { isolation: self, runtime }
    }

    /// Counts `task` (an invocation's worker, stuck in a handler that blocks its thread and
    /// already told to stop) as abandoned work until it has ended.
    pub(crate) fn watch<T: Send + 'static>(&self, task: JoinHandle<T>) {
        let stopping = Arc::clone(&self.stopping);
        stopping.count.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let _ = task.await;
            stopping.release();
        });
    }

    /// Notes that abandoned work kept a whole invocation from starting any record.
    pub(crate) fn stuck(&self) {
        self.stopping.stuck.store(true, Ordering::Release);
    }

    /// Whether abandoned work kept an invocation from starting any record and is still
    /// running (a later abandonment, once that work has stopped, starts afresh).
    pub(crate) fn is_stuck(&self) -> bool {
        self.stopping.stuck.load(Ordering::Acquire) && !self.is_settled()
    }

    /// Whether nothing an abandoned attempt started is still running.
    pub(crate) fn is_settled(&self) -> bool {
        self.stopping.count.load(Ordering::Acquire) == 0
    }

    /// Waits until nothing an abandoned attempt started is still running.
    pub(crate) async fn settled(&self) {
        loop {
            let notified = self.stopping.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_settled() {
                return;
            }
            notified.await;
        }
    }
}

impl Drop for Isolation {
    fn drop(&mut self) {
        // A router may be dropped inside async code, where a runtime may not block.
        for runtime in self.idle.get_mut().unwrap_or_else(PoisonError::into_inner).drain(..) {
            runtime.shutdown_background();
        }
    }
}

/// Whether the current runtime's clock is paused: tokio's clock stands still while the
/// system clock moves. Without a runtime, or without tokio's `test-util`, it never is.
fn clock_is_paused() -> bool {
    // Only a current-thread runtime can pause its clock.
    let current_thread =
        Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
    if !current_thread {
        return false;
    }
    let tokio_before = tokio::time::Instant::now();
    let system_before = std::time::Instant::now();
    while std::time::Instant::now() == system_before {
        std::hint::spin_loop();
    }
    tokio::time::Instant::now() == tokio_before
}

/// A future polled with `runtime` as the current runtime (when there is one), so what it
/// spawns, and the timers and sockets it creates, belong to that runtime; and with its
/// invocation's deadline readable through [`invocation_deadline`], and whether it is a
/// redrive through [`replay::current`].
pub(crate) struct Entered<F> {
    runtime: Option<Handle>,
    deadline: Option<SystemTime>,
    redrive: Option<Redrive>,
    inner: Pin<Box<F>>,
}

impl<F> Entered<F> {
    pub(crate) fn new(
        runtime: Option<Handle>,
        deadline: Option<SystemTime>,
        redrive: Option<Redrive>,
        inner: F,
    ) -> Self {
        Self { runtime, deadline, redrive, inner: Box::pin(inner) }
    }
}

thread_local! {
    static DEADLINE: Cell<Option<SystemTime>> = const { Cell::new(None) };
}

impl<F: Future> Future for Entered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _entered = this.runtime.as_ref().map(Handle::enter);
        let outer = DEADLINE.with(|deadline| deadline.replace(this.deadline));
        let polled = replay::with(this.redrive, || this.inner.as_mut().poll(cx));
        DEADLINE.with(|deadline| deadline.set(outer));
        polled
    }
}

/// The deadline of the invocation whose handler is being polled on this thread (Lambda's
/// deadline, not less the margin); `None` outside a handler, or when the invocation has no
/// deadline (`Context::default()`). Tasks a handler spawns do not see it.
pub fn invocation_deadline() -> Option<SystemTime> {
    DEADLINE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::Isolation;
    use std::time::Duration;

    #[tokio::test]
    async fn stuck_work_is_forgotten_once_it_has_stopped() {
        let isolation = Isolation::default();
        isolation.watch(tokio::spawn(tokio::time::sleep(Duration::from_millis(20))));
        isolation.stuck();
        assert!(isolation.is_stuck());
        isolation.settled().await;
        assert!(!isolation.is_stuck());
        // A later abandonment's work is not stuck until a whole invocation waits it out.
        isolation.watch(tokio::spawn(tokio::time::sleep(Duration::from_millis(20))));
        assert!(!isolation.is_settled() && !isolation.is_stuck());
        isolation.settled().await;
    }
}
