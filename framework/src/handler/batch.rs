//! A handler called once with all the changes of a batch.

use std::fmt;
use std::future::Future;

use crate::change::Change;
use crate::error::BoxError;

/// An `async fn` that processes the changes of a batch together (for example with one
/// `BatchWriteItem`): `async fn(Vec<Change<T, K>>) -> Result<(), BatchFailure>`.
///
/// The changes arrive in stream order. On failure, say which change failed first with
/// [`BatchFailure::at`]: the changes before it count as processed, that one and every later
/// one are retried by Lambda.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a batch handler for `Vec<Change<{T}, {K}>>`",
    note = "a batch handler is an `async fn(Vec<Change<T, K>>) -> Result<(), ddbstream::BatchFailure>` \
            (Send + Sync + 'static)"
)]
pub trait BatchHandler<T, K>: Send + Sync + 'static {
    /// Processes the changes; a failure names the first change that was not processed.
    fn call(&self, changes: Vec<Change<T, K>>) -> impl Future<Output = Result<(), BatchFailure>> + Send;
}

impl<F, Fut, T, K> BatchHandler<T, K> for F
where
    F: Fn(Vec<Change<T, K>>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BatchFailure>> + Send,
{
    fn call(&self, changes: Vec<Change<T, K>>) -> impl Future<Output = Result<(), BatchFailure>> + Send {
        self(changes)
    }
}

/// The first change of a batch that a [`BatchHandler`] did not process, and why.
#[derive(Debug)]
pub struct BatchFailure {
    pub(crate) index: usize,
    pub(crate) error: BoxError,
}

impl BatchFailure {
    /// The change at `index` (in the `Vec` the handler received) failed with `error`.
    /// An index past the end is taken as 0: the whole batch is retried, nothing is lost.
    pub fn at(index: usize, error: impl Into<BoxError>) -> Self {
        Self { index, error: error.into() }
    }

    /// The index of the first failed change.
    pub fn index(&self) -> usize {
        self.index
    }
}

/// `?` on any error inside a batch handler fails the batch from its first change: nothing
/// the handler did is acknowledged, everything is retried.
impl<E: std::error::Error + Send + Sync + 'static> From<E> for BatchFailure {
    fn from(error: E) -> Self {
        Self::at(0, error)
    }
}

impl fmt::Display for BatchFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "change {} of the batch failed: {}", self.index, self.error)
    }
}
