//! Running user code so that neither a panic nor a hang can take the batch with it.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

use super::{Deadline, Failure};

/// Runs a handler's future, containing its panic and abandoning it at the deadline margin.
///
/// `work` should call the handler inside its body (`async { handler.call(x).await }`) so
/// that a panic raised while creating the future is caught too.
pub(crate) async fn guarded<F: Future>(work: F, deadline: &Deadline) -> Result<F::Output, Failure> {
    match deadline.run(AssertUnwindSafe(work).catch_unwind()).await {
        Some(Ok(output)) => Ok(output),
        Some(Err(panic)) => {
            let message = panic_message(panic.as_ref());
            tracing::error!(panic = %message, "handler panicked; its record fails, the process lives on");
            Err(Failure::Panic(message))
        }
        None => Err(Failure::Abandoned),
    }
}

/// Runs synchronous user code (a `Deserialize` impl, a filter predicate), containing its
/// panic as the record's failure.
pub(crate) fn contained<T>(work: impl FnOnce() -> T) -> Result<T, Failure> {
    std::panic::catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        let message = panic_message(panic.as_ref());
        tracing::error!(panic = %message, "decoding or a filter panicked; its record fails, the process lives on");
        Failure::Panic(message)
    })
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}
