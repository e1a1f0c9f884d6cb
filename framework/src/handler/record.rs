//! A handler called once per change.

use std::future::Future;

use crate::change::Change;
use crate::error::BoxError;

/// An `async fn` that processes one change: `async fn(Change<T, K>) -> Result<(), E>`.
///
/// Implemented for every function and closure of that shape, where `E` converts into
/// [`BoxError`] (any `std::error::Error + Send + Sync`, `String`, `&str`, `anyhow::Error`).
/// Capture shared state (clients, table names) in a closure or an `Arc`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a record handler for `Change<{T}, {K}>`",
    note = "a record handler is an `async fn(Change<T, K>) -> Result<(), E>` (Send + Sync + 'static) \
            where `T` and `K` are `serde::de::DeserializeOwned` and `E: Into<ddbstream::BoxError>`"
)]
pub trait RecordHandler<T, K>: Send + Sync + 'static {
    /// Processes one change; an error fails the change's record.
    fn call(&self, change: Change<T, K>) -> impl Future<Output = Result<(), BoxError>> + Send;
}

impl<F, Fut, E, T, K> RecordHandler<T, K> for F
where
    F: Fn(Change<T, K>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), E>> + Send,
    E: Into<BoxError>,
{
    fn call(&self, change: Change<T, K>) -> impl Future<Output = Result<(), BoxError>> + Send {
        let future = self(change);
        async move { future.await.map_err(Into::into) }
    }
}
