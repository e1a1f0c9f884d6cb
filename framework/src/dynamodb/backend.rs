//! Where the guards' transactions go: DynamoDB, or the in-memory twin.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_sdk_dynamodb::types::TransactWriteItem;
use aws_sdk_dynamodb::Client;

use super::error::WriteError;
use super::limits::KeySchemas;
use super::transact::{self, backoff, cancelled, Outcome, Reason, ATTEMPTS};
use super::twin::{Attributes, Twin};

/// DynamoDB, or the twin (shared by clones).
#[derive(Clone, Debug)]
pub(super) enum Backend {
    DynamoDb(Client),
    Memory(Arc<Memory>),
}

/// The twin, and how long each of its calls takes (none unless a test asks, so that
/// concurrent callers meet as they do over a network).
#[derive(Debug, Default)]
pub(super) struct Memory {
    twin: Mutex<Twin>,
    latency: Mutex<Duration>,
}

impl Memory {
    pub(super) fn twin(&self) -> MutexGuard<'_, Twin> {
        self.twin.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn set_latency(&self, latency: Duration) {
        *self.latency.lock().unwrap_or_else(PoisonError::into_inner) = latency;
    }

    async fn wait(&self) {
        let latency = *self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }
}

impl Backend {
    /// One `TransactWriteItems` call.
    pub(super) async fn send(&self, items: Vec<TransactWriteItem>, schemas: &KeySchemas) -> Outcome {
        match self {
            Self::DynamoDb(client) => transact::send(client, items).await,
            Self::Memory(memory) => {
                memory.wait().await;
                memory.twin().transact(&items, schemas)
            }
        }
    }

    /// One transaction sent until DynamoDB stops answering with conflicts and throttles
    /// (at most [`ATTEMPTS`] times, backing off between).
    pub(super) async fn send_retrying(&self, items: Vec<TransactWriteItem>, schemas: &KeySchemas) -> Outcome {
        let mut attempt = 0;
        loop {
            let outcome = self.send(items.clone(), schemas).await;
            let again = match &outcome {
                Outcome::Busy(_) => true,
                Outcome::Cancelled(reasons, _) => {
                    reasons.iter().any(Reason::passing)
                        && reasons.iter().all(|reason| reason.passing() || *reason == Reason::Fine)
                }
                Outcome::Committed | Outcome::Failed(_) => false,
            };
            attempt += 1;
            if !again || attempt >= ATTEMPTS {
                return outcome;
            }
            tracing::debug!(attempt, "transaction met a conflict or a throttle; sending it again");
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    /// Records what a committed transaction applied, in the twin (nothing for DynamoDB).
    pub(super) fn record(&self, entries: impl IntoIterator<Item = (String, Vec<TransactWriteItem>)>) {
        if let Self::Memory(memory) = self {
            let mut twin = memory.twin();
            for (key, writes) in entries {
                twin.record(key, writes);
            }
        }
    }

    /// The item with `key`, read consistently.
    pub(super) async fn get(&self, table: &str, key: Attributes) -> Result<Option<Attributes>, WriteError> {
        match self {
            Self::DynamoDb(client) => {
                let get = client.get_item().table_name(table).consistent_read(true).set_key(Some(key));
                get.send().await.map(|out| out.item).map_err(|err| WriteError::sdk("GetItem", &err))
            }
            Self::Memory(memory) => {
                memory.wait().await;
                Ok(memory.twin().item(table, &key).cloned())
            }
        }
    }
}

/// What a transaction that did not commit says, for an error message.
pub(super) fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Committed => "committed".into(),
        Outcome::Busy(error) | Outcome::Failed(error) => error.to_string(),
        Outcome::Cancelled(reasons, _) => format!("TransactWriteItems was {}", cancelled(reasons)),
    }
}
