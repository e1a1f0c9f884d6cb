//! One `TransactWriteItems` call and what came of it, the same for DynamoDB and the twin:
//! committed, cancelled with a reason per action, worth retrying as a whole, or failed. And
//! the backoff between attempts when DynamoDB answers with a conflict or a throttle.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::error::WriteError;

/// Why DynamoDB cancelled one action of a transaction (its `CancellationReason` code).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Reason {
    /// This action was fine; another one cancelled the transaction.
    Fine,
    /// Its condition failed.
    ConditionFailed,
    /// Another transaction or write was on its item at the same time (`TransactionConflict`).
    Conflict,
    /// Its partition was over its throughput (`ThrottlingError`,
    /// `ProvisionedThroughputExceeded`, `RequestLimitExceeded`).
    Throttled,
    /// Anything else (`ValidationError`, `ItemCollectionSizeLimitExceeded`...): code and message.
    Other(String),
}

impl Reason {
    fn from_code(code: Option<&str>, message: Option<&str>) -> Self {
        match code {
            None | Some("None") => Self::Fine,
            Some("ConditionalCheckFailed") => Self::ConditionFailed,
            Some("TransactionConflict") => Self::Conflict,
            Some("ThrottlingError" | "ProvisionedThroughputExceeded" | "RequestLimitExceeded") => Self::Throttled,
            Some(other) => Self::Other(format!("{other}: {}", message.unwrap_or("no message"))),
        }
    }

    /// Whether the same action may pass when sent again.
    pub(super) fn passing(&self) -> bool {
        matches!(self, Self::Conflict | Self::Throttled)
    }
}

/// The reasons of a cancelled transaction that say something, each with its action's index:
/// `cancelled (action 0: Conflict, action 2: ConditionFailed)`.
pub(super) fn cancelled(reasons: &[Reason]) -> String {
    let named: Vec<String> = reasons
        .iter()
        .enumerate()
        .filter(|(_, reason)| **reason != Reason::Fine)
        .map(|(index, reason)| format!("action {index}: {reason:?}"))
        .collect();
    format!("cancelled ({})", named.join(", "))
}

/// What came of one `TransactWriteItems` call.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Every action was made.
    Committed,
    /// Nothing was made; one reason per action, in order, and for an action whose
    /// condition failed and that asked for it (`ReturnValuesOnConditionCheckFailure`), the
    /// item as it was.
    Cancelled(Vec<Reason>, Vec<Option<HashMap<String, AttributeValue>>>),
    /// Nothing was made, and the same call may pass later: a throttle, a server error, a
    /// transaction with the same items still in progress.
    Busy(WriteError),
    /// Nothing was made, and sending it again would not help.
    Failed(WriteError),
}

/// Sends one transaction to DynamoDB.
pub(super) async fn send(client: &Client, items: Vec<TransactWriteItem>) -> Outcome {
    let count = items.len();
    let error = match client.transact_write_items().set_transact_items(Some(items)).send().await {
        Ok(_) => return Outcome::Committed,
        Err(error) => error,
    };
    let busy = match &error {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                let reasons: Vec<Reason> = cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|reason| Reason::from_code(reason.code(), reason.message()))
                    .collect();
                let olds = cancelled.cancellation_reasons().iter().map(|reason| reason.item().cloned()).collect();
                if reasons.len() == count {
                    return Outcome::Cancelled(reasons, olds);
                }
                false
            }
            TransactWriteItemsError::TransactionInProgressException(_)
            | TransactWriteItemsError::ProvisionedThroughputExceededException(_)
            | TransactWriteItemsError::RequestLimitExceeded(_)
            | TransactWriteItemsError::ThrottlingException(_)
            | TransactWriteItemsError::InternalServerError(_) => true,
            other => other.code() == Some("ThrottlingException"),
        },
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        _ => false,
    };
    let error = WriteError::sdk("TransactWriteItems", &error);
    if busy {
        Outcome::Busy(error)
    } else {
        Outcome::Failed(error)
    }
}

/// How many times one change's transaction is sent when DynamoDB keeps answering with a
/// conflict or a throttle; between them the waits grow from [`FIRST_WAIT`] to [`LONGEST_WAIT`]
/// (about 4 s in all), well inside a Lambda invocation. The router's deadline cuts it short
/// where the invocation ends first.
pub(super) const ATTEMPTS: u32 = 10;
/// The first wait after a conflict or a throttle.
const FIRST_WAIT: Duration = Duration::from_millis(10);
/// The longest wait between two attempts.
const LONGEST_WAIT: Duration = Duration::from_secs(1);

/// The wait before attempt `attempt` (1 for the first retry): exponential, capped, with
/// full jitter so that the writers that conflicted do not meet again.
pub(super) fn backoff(attempt: u32) -> Duration {
    let ceiling = FIRST_WAIT.saturating_mul(1 << attempt.min(16)).min(LONGEST_WAIT);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(jitter() % nanos.max(1))
}

/// A pseudo-random number (xorshift, seeded per thread from the clock and the thread).
fn jitter() -> u64 {
    use std::cell::Cell;
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
            hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
            hasher.finish() | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        x
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_by_code() {
        assert_eq!(Reason::from_code(Some("None"), None), Reason::Fine);
        assert_eq!(Reason::from_code(None, None), Reason::Fine);
        assert_eq!(Reason::from_code(Some("ConditionalCheckFailed"), None), Reason::ConditionFailed);
        assert_eq!(Reason::from_code(Some("TransactionConflict"), None), Reason::Conflict);
        assert_eq!(Reason::from_code(Some("ThrottlingError"), None), Reason::Throttled);
        assert_eq!(Reason::from_code(Some("ProvisionedThroughputExceeded"), None), Reason::Throttled);
        assert_eq!(
            Reason::from_code(Some("ValidationError"), Some("bad ADD")),
            Reason::Other("ValidationError: bad ADD".into())
        );
        assert!(Reason::Conflict.passing() && Reason::Throttled.passing());
        assert!(!Reason::ConditionFailed.passing() && !Reason::Fine.passing());
    }

    #[test]
    fn backoff_grows_and_stays_capped() {
        for attempt in 0..40 {
            let wait = backoff(attempt);
            let ceiling = FIRST_WAIT.saturating_mul(1 << attempt.min(16)).min(LONGEST_WAIT);
            assert!(wait < ceiling, "attempt {attempt}: {wait:?} not under {ceiling:?}");
        }
        let total: Duration = (1..ATTEMPTS).map(|a| FIRST_WAIT.saturating_mul(1 << a).min(LONGEST_WAIT)).sum();
        assert!(total < Duration::from_secs(6), "{total:?}");
    }
}
