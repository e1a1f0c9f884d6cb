//! Running user code so that neither a panic nor a hang can take the batch with it.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use super::failure::Failure;
use super::invocation::Invocation;
use super::isolation::Entered;

/// Runs a handler's future in the invocation's handler runtime, containing its panic and
/// abandoning it at the deadline margin; its time counts as handler time in the
/// invocation's metrics.
///
/// `work` should call the handler inside its body (`async { handler.call(x).await }`) so
/// that a panic raised while creating the future is caught too. An abandoned future is
/// dropped at once, and a panic in its `Drop` is contained as well.
pub(crate) async fn guarded<F: Future>(work: F, invocation: &Invocation) -> Result<F::Output, Failure> {
    let work = Entered::new(
        invocation.handlers.clone(),
        invocation.gate.at(),
        invocation.control.redrive,
        AssertUnwindSafe(work).catch_unwind(),
    );
    let started = std::time::Instant::now();
    let outcome = invocation.gate.run(work).await;
    invocation.stats.handler_time(started.elapsed());
    match outcome {
        Ok(Ok(output)) => Ok(output),
        Ok(Err(panic)) => {
            let message = panic_message(panic);
            tracing::error!(panic = %message, "handler panicked; its record fails, the process lives on");
            Err(Failure::Panic(message))
        }
        Err(abandoned) => {
            invocation.progress.abandoned();
            if let Err(panic) = std::panic::catch_unwind(AssertUnwindSafe(move || drop(abandoned))) {
                let message = panic_message(panic);
                tracing::error!(panic = %message, "an abandoned handler panicked while it was dropped");
            }
            Err(Failure::Abandoned)
        }
    }
}

/// Runs synchronous user code (a `Deserialize` impl, a filter predicate, an error's
/// `Display`), containing its panic as the record's failure.
pub(crate) fn contained<T>(work: impl FnOnce() -> T) -> Result<T, Failure> {
    std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        let message = panic_message(panic);
        tracing::error!(panic = %message, "decoding or a filter panicked; its record fails, the process lives on");
        Failure::Panic(message)
    })
}

/// The panic's message; the payload itself is dropped with its own panic contained.
fn panic_message(panic: Box<dyn Any + Send>) -> String {
    let message = if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    };
    let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(panic)));
    message
}
