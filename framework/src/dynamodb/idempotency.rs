//! Idempotency for effects outside DynamoDB (an HTTP call, an e-mail, a queue message): a
//! record is claimed in a DynamoDB table before its effect and marked done after it, so a
//! redelivery of a done record skips the effect.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::WriteError;
use crate::{BoxError, Change};

/// How long DynamoDB Streams keeps a record.
pub const STREAM_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// The longest lease of a claim when the invocation's deadline is unknown: Lambda's
/// longest timeout.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15 * 60);

/// What [`Idempotency::once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect<R> {
    /// The effect ran now; its result.
    Ran(R),
    /// The effect had already run for this record: its stored result.
    AlreadyDone(R),
}

impl<R> Effect<R> {
    /// The result, whether it ran now or before.
    pub fn into_inner(self) -> R {
        match self {
            Self::Ran(r) | Self::AlreadyDone(r) => r,
        }
    }
}

/// Claims each record's effect before running it: see the [module docs](super).
///
/// - A done claim makes a redelivery skip the effect ([`Effect::AlreadyDone`], with the
///   stored result).
/// - A claim in progress (another invocation running it, or one that died) fails the
///   record until its lease ends: the invocation's deadline when known
///   ([`crate::invocation_deadline`]), else [`DEFAULT_LEASE`].
/// - A failed effect releases its claim, so the retry runs it again.
/// - Done claims expire (TTL attribute `expires_at`) only when no redelivery can come:
///   by default after the stream's retention plus the mapping's maximum record age
///   (24 h + 24 h); a shorter expiry is refused.
#[derive(Clone, Debug)]
pub struct Idempotency {
    backend: Backend,
    table: String,
    partition_key: String,
    maximum_record_age: Duration,
    expiry: Duration,
}

#[derive(Clone, Debug)]
enum Backend {
    DynamoDb(Client),
    Memory(Arc<Mutex<HashMap<String, Claim>>>),
}

/// A claim as stored.
#[derive(Clone, Debug)]
struct Claim {
    done: bool,
    lease_until_ms: u64,
    result: Option<String>,
}

fn epoch_ms(time: SystemTime) -> u64 {
    u64::try_from(time.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

impl Idempotency {
    /// Claims kept in `table`, whose partition key is a string attribute `pk` (enable TTL on
    /// `expires_at` to have done claims removed).
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with(Backend::DynamoDb(client), table.into())
    }

    /// The in-memory twin, for tests without AWS: the same claim rules, leases and expiry
    /// checks. `tests/idempotency.rs` runs one scenario suite against it and against
    /// DynamoDB (moto) and requires the same answers.
    pub fn in_memory() -> Self {
        Self::with(Backend::Memory(Arc::default()), "in-memory".into())
    }

    fn with(backend: Backend, table: String) -> Self {
        Self {
            backend,
            table,
            partition_key: "pk".into(),
            maximum_record_age: STREAM_RETENTION,
            expiry: STREAM_RETENTION + STREAM_RETENTION,
        }
    }

    /// The claims table's partition key attribute, if not `pk`.
    pub fn partition_key(mut self, attribute: impl Into<String>) -> Self {
        self.partition_key = attribute.into();
        self
    }

    /// The mapping's `MaximumRecordAgeInSeconds`, when it is set below the retention: done
    /// claims may then expire sooner (retention plus this age).
    pub fn maximum_record_age(mut self, age: Duration) -> Self {
        self.maximum_record_age = age.min(STREAM_RETENTION);
        self.expiry = self.expiry.max(STREAM_RETENTION + self.maximum_record_age);
        self
    }

    /// How long a done claim is kept. Refused below the stream's retention plus the
    /// mapping's maximum record age: a redelivery could then run the effect again.
    pub fn expire_after(mut self, expiry: Duration) -> Result<Self, WriteError> {
        let floor = STREAM_RETENTION + self.maximum_record_age;
        if expiry < floor {
            return Err(WriteError::new(format!(
                "done claims kept {} s could expire while the stream can still redeliver their record: keep them \
                 at least {} s (24 h retention plus the mapping's maximum record age)",
                expiry.as_secs(),
                floor.as_secs()
            )));
        }
        self.expiry = expiry;
        Ok(self)
    }

    /// Runs `effect` for `change` unless it already ran, claiming the change by its event id.
    pub async fn once<T, K, R, F, Fut>(&self, change: &Change<T, K>, effect: F) -> Result<Effect<R>, BoxError>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, BoxError>>,
    {
        self.once_keyed(&change.meta.event_id, effect).await
    }

    /// Runs `effect` unless it already ran under `key` (one you derive: an order id, a
    /// message id).
    pub async fn once_keyed<R, F, Fut>(&self, key: &str, effect: F) -> Result<Effect<R>, BoxError>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<R, BoxError>>,
    {
        let now = SystemTime::now();
        let lease_until = crate::invocation_deadline().filter(|d| *d > now).unwrap_or(now + DEFAULT_LEASE);
        if let Some(existing) = self.claim(key, epoch_ms(now), epoch_ms(lease_until)).await? {
            if !existing.done {
                return Err(format!(
                    "record {key} is being processed by another invocation (or one that ended without finishing), \
                     whose claim holds until {} ms: retry after it",
                    existing.lease_until_ms
                )
                .into());
            }
            let stored = existing.result.unwrap_or_else(|| "null".into());
            let result = serde_json::from_str(&stored)
                .map_err(|err| format!("the stored result of {key} does not decode: {err}"))?;
            return Ok(Effect::AlreadyDone(result));
        }
        match effect().await {
            Ok(result) => {
                let stored = serde_json::to_string(&result)
                    .map_err(|err| format!("the result of {key} does not serialize: {err}"))?;
                self.complete(key, stored, epoch_ms(SystemTime::now() + self.expiry)).await?;
                Ok(Effect::Ran(result))
            }
            Err(error) => {
                self.release(key).await?;
                Err(error)
            }
        }
    }

    /// Takes the claim; `Some(existing)` when another holds it (done, or leased).
    async fn claim(&self, key: &str, now_ms: u64, lease_until_ms: u64) -> Result<Option<Claim>, WriteError> {
        let client = match &self.backend {
            Backend::Memory(claims) => {
                let mut claims = claims.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(existing) = claims.get(key).filter(|c| c.done || c.lease_until_ms >= now_ms) {
                    return Ok(Some(existing.clone()));
                }
                claims.insert(key.to_owned(), Claim { done: false, lease_until_ms, result: None });
                return Ok(None);
            }
            Backend::DynamoDb(client) => client,
        };
        let put = client
            .put_item()
            .table_name(&self.table)
            .item(&self.partition_key, AttributeValue::S(key.to_owned()))
            .item("status", AttributeValue::S("IN_PROGRESS".into()))
            .item("lease_until", AttributeValue::N(lease_until_ms.to_string()))
            .condition_expression("attribute_not_exists(#pk) OR (#status = :in_progress AND lease_until < :now)")
            .expression_attribute_names("#pk", &self.partition_key)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S("IN_PROGRESS".into()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(err))
                if matches!(err.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                let got = client
                    .get_item()
                    .table_name(&self.table)
                    .key(&self.partition_key, AttributeValue::S(key.to_owned()))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|err| WriteError::sdk("GetItem", &err))?;
                let item = got.item().cloned().unwrap_or_default();
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                Ok(Some(Claim {
                    done: text("status").as_deref() == Some("COMPLETED"),
                    lease_until_ms: number("lease_until").unwrap_or(0),
                    result: text("result"),
                }))
            }
            Err(err) => Err(WriteError::sdk("PutItem (claim)", &err)),
        }
    }

    async fn complete(&self, key: &str, result: String, expires_at_ms: u64) -> Result<(), WriteError> {
        let client = match &self.backend {
            Backend::Memory(claims) => {
                let mut claims = claims.lock().unwrap_or_else(PoisonError::into_inner);
                claims.insert(key.to_owned(), Claim { done: true, lease_until_ms: 0, result: Some(result) });
                return Ok(());
            }
            Backend::DynamoDb(client) => client,
        };
        client
            .put_item()
            .table_name(&self.table)
            .item(&self.partition_key, AttributeValue::S(key.to_owned()))
            .item("status", AttributeValue::S("COMPLETED".into()))
            .item("result", AttributeValue::S(result))
            .item("expires_at", AttributeValue::N((expires_at_ms / 1000).to_string()))
            .send()
            .await
            .map_err(|err| WriteError::sdk("PutItem (done)", &err))?;
        Ok(())
    }

    async fn release(&self, key: &str) -> Result<(), WriteError> {
        let client = match &self.backend {
            Backend::Memory(claims) => {
                claims.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
                return Ok(());
            }
            Backend::DynamoDb(client) => client,
        };
        client
            .delete_item()
            .table_name(&self.table)
            .key(&self.partition_key, AttributeValue::S(key.to_owned()))
            .condition_expression("#status = :in_progress")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":in_progress", AttributeValue::S("IN_PROGRESS".into()))
            .send()
            .await
            .map_err(|err| WriteError::sdk("DeleteItem (release)", &err))?;
        Ok(())
    }
}
