//! Idempotency for effects outside DynamoDB (an HTTP call, an e-mail, a queue message): a
//! record is claimed in a DynamoDB table before its effect and marked done after it, so a
//! redelivery of a done record skips the effect.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::WriteError;
use super::key::{label, sha256_hex, Consumer};
use crate::change::Change;
use crate::contract::{invocation_deadline, replay};
use crate::error::BoxError;

/// How long DynamoDB Streams keeps a record.
pub const STREAM_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// The longest a Kinesis data stream keeps a record (365 days): how long claims of changes
/// through Kinesis are kept unless [`Idempotency::kinesis_retention`] states the stream's own.
pub const KINESIS_MAX_RETENTION: Duration = Duration::from_secs(365 * 24 * 3600);
/// How long after a record could last be delivered a redrive may still bring it back, unless
/// [`Idempotency::redrive_window`] says otherwise: 7 days.
pub const DEFAULT_REDRIVE_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
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

/// The key an effect runs under, handed to the effect: the same for every delivery of its
/// record (and every retry of the effect), and unique to the consumer. Give it to a sink
/// that deduplicates (an SQS FIFO queue's `MessageDeduplicationId`, an HTTP
/// `Idempotency-Key`), so that an effect run again after a crash between the effect and its
/// claim's completion is dropped by the sink.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EffectKey {
    key: String,
}

impl EffectKey {
    /// The claim's key: `<consumer>#<event id>`, or `<consumer>#<your key>`. It may hold item
    /// values (a derived key): prefer [`digest`](Self::digest) where it leaves the function.
    pub fn as_str(&self) -> &str {
        &self.key
    }

    /// The key's SHA-256 in hex: 64 characters from `[0-9a-f]`, fit for an SQS
    /// `MessageDeduplicationId` (at most 128) or an HTTP header, and carrying no item values.
    pub fn digest(&self) -> String {
        sha256_hex(&self.key)
    }
}

/// Claims each record's effect before running it: see the [module docs](super).
///
/// - Claims are the consumer's own: keyed `<consumer>#<event id>` (or `#<your key>`), the
///   consumer being the function's name (`AWS_LAMBDA_FUNCTION_NAME`) or the name given to
///   [`consumer`](Self::consumer). Functions sharing one table never see each other's.
/// - A done claim makes a redelivery skip the effect ([`Effect::AlreadyDone`], with the
///   stored result).
/// - A claim in progress (another invocation running it, or one that died) fails the
///   record until its lease ends: the invocation's deadline when known
///   ([`crate::invocation_deadline`]), else [`lease`](Self::lease) ([`DEFAULT_LEASE`]).
/// - A claim is owned: only the invocation that took it completes or releases it. One whose
///   lease ran out, and whose claim another took, gets an error, never a silent overwrite.
/// - A failed effect, or one that panics, releases its claim, so the retry runs it again.
/// - Done claims expire (TTL attribute `expires_at`) only once no path can bring their
///   record back: the source's retention (24 h for a DynamoDB stream; through Kinesis the
///   stream's, [`kinesis_retention`](Self::kinesis_retention), 365 days unless stated),
///   capped by the mapping's [`maximum_record_age`](Self::maximum_record_age), plus the
///   [`redrive_window`](Self::redrive_window) (7 days unless stated). A redrive refuses a
///   record older than that, naming it, unless forced.
///
/// # AWS permissions and schema
///
/// - The claims table: partition key `pk` (string; another name with
///   [`partition_key`](Self::partition_key)), no sort key. A claim in progress is `pk`
///   (`<consumer>#<event id>` or `<consumer>#<your key>`), `status` (string, `IN_PROGRESS`),
///   `owner` (string, the attempt's token) and `lease_until` (number, epoch milliseconds); a
///   done claim replaces it with `pk`, `status` (`COMPLETED`), `owner`, `result` (string, the
///   effect's result as JSON) and `expires_at` (number, epoch seconds). Enable TTL on
///   `expires_at` to have done claims removed. A claim in progress carries no `expires_at`:
///   one left by an attempt that died stays until another attempt takes it over after its
///   lease.
/// - `dynamodb:PutItem` on the claims table: taking a claim and marking it done (both
///   conditional puts; no `UpdateItem`).
/// - `dynamodb:GetItem` on the claims table: a consistent read of the claim when taking it
///   was refused (done, or held by another attempt).
/// - `dynamodb:DeleteItem` on the claims table: releasing a claim after the effect failed or
///   panicked, or when a redrive refuses the record.
/// - Each is a call of its own, never inside `TransactWriteItems`: a
///   `dynamodb:EnclosingOperation` condition on them would deny them. Nothing else is
///   called (no `ConditionCheckItem`, no `DescribeTable`); the effect's own calls need their
///   own permissions. The twin ([`in_memory`](Self::in_memory)) calls nothing.
#[derive(Clone, Debug)]
pub struct Idempotency {
    backend: Backend,
    table: String,
    partition_key: String,
    consumer: Consumer,
    kinesis_retention: Duration,
    maximum_record_age: Option<Duration>,
    redrive_window: Duration,
    lease: Duration,
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
    owner: String,
}

/// What the claims table holds of a claim.
const STATUS: &str = "status";
const IN_PROGRESS: &str = "IN_PROGRESS";
const COMPLETED: &str = "COMPLETED";
const OWNER: &str = "owner";

fn epoch_ms(time: SystemTime) -> u64 {
    u64::try_from(time.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

/// A token no other claim attempt holds: this process's random seed, the time, and a
/// counter.
fn owner_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = RandomState::new().hash_one(std::process::id());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{seed:016x}-{nanos:x}-{count:x}")
}

impl Idempotency {
    /// Claims kept in `table`, whose partition key is a string attribute `pk` (enable TTL on
    /// `expires_at` to have done claims removed), for the consumer named by Lambda's
    /// `AWS_LAMBDA_FUNCTION_NAME`. Outside Lambda (the runner, the redrive, a test) name it
    /// with [`consumer`](Self::consumer): until then every [`once`](Self::once) fails,
    /// saying so.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self::with(Backend::DynamoDb(client), table.into(), Consumer::from_env())
    }

    /// The in-memory twin, for tests without AWS: the same claim rules, keys, owners, leases
    /// and expiries. Its consumer is `AWS_LAMBDA_FUNCTION_NAME`, or `test` when that is not
    /// set; clones share the twin's claims. `tests/idempotency.rs` runs one scenario suite
    /// against it and against DynamoDB (moto) and requires the same answers.
    pub fn in_memory() -> Self {
        Self::with(Backend::Memory(Arc::default()), "in-memory".into(), Consumer::for_twin())
    }

    fn with(backend: Backend, table: String, consumer: Consumer) -> Self {
        Self {
            backend,
            table,
            partition_key: "pk".into(),
            consumer,
            kinesis_retention: KINESIS_MAX_RETENTION,
            maximum_record_age: None,
            redrive_window: DEFAULT_REDRIVE_WINDOW,
            lease: DEFAULT_LEASE,
        }
    }

    /// How long a claim holds when the invocation's deadline is unknown (the runner, a direct
    /// call): [`DEFAULT_LEASE`] unless set. Keep it above the longest an effect may take: a
    /// claim whose lease ran out may be taken by a redelivery while its effect still runs.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Whose claims these are: a name of your choosing (the function's name, so that the
    /// runner and the redrive share the deployed function's claims), not empty and without
    /// `#`. Consumers sharing one claims table never see each other's claims.
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = Consumer::named(name);
        self
    }

    /// The claims table's partition key attribute, if not `pk`.
    pub fn partition_key(mut self, attribute: impl Into<String>) -> Self {
        self.partition_key = attribute.into();
        self
    }

    /// The retention of the Kinesis data stream changes come through (its
    /// `RetentionPeriodHours`): claims of such changes are kept that long (capped by the
    /// maximum record age) plus the redrive window. Unstated, 365 days, Kinesis' longest.
    pub fn kinesis_retention(mut self, retention: Duration) -> Self {
        self.kinesis_retention = retention;
        self
    }

    /// The mapping's `MaximumRecordAgeInSeconds`, when it is set: a record older than that
    /// is never delivered again, so claims may expire sooner.
    pub fn maximum_record_age(mut self, age: Duration) -> Self {
        self.maximum_record_age = Some(age);
        self
    }

    /// How long a redrive may come after a record could last be delivered: as long as the
    /// failure destination keeps what it received (the template's bucket: 90 days). Claims
    /// are kept that much longer; a redrive of an older record is refused unless forced.
    pub fn redrive_window(mut self, window: Duration) -> Self {
        self.redrive_window = window;
        self
    }

    /// How long a done claim of `change` is kept after it is done: until no path can bring
    /// the record back (see [`Idempotency`]).
    pub fn claim_lifetime<T, K>(&self, change: &Change<T, K>) -> Duration {
        let retention = if change.meta.via_kinesis() { self.kinesis_retention } else { STREAM_RETENTION };
        let delivery = self.maximum_record_age.map_or(retention, |age| age.min(retention));
        delivery.saturating_add(self.redrive_window)
    }

    /// Runs `effect` for `change` unless it already ran, claiming the change by its event id
    /// (`<consumer>#<event id>`). The effect gets its [`EffectKey`].
    pub async fn once<T, K, R, F, Fut>(&self, change: &Change<T, K>, effect: F) -> Result<Effect<R>, BoxError>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(EffectKey) -> Fut,
        Fut: Future<Output = Result<R, BoxError>>,
    {
        if change.meta.event_id.is_empty() {
            return Err("a record without an eventID cannot be claimed: use once_keyed with a key of its own".into());
        }
        let key = self.consumer.key(&change.meta.event_id)?;
        self.run(change, key, effect).await
    }

    /// Runs `effect` for `change` unless it already ran under `key` (one you derive: an
    /// order id, a message id), within this consumer's claims (`<consumer>#<key>`).
    pub async fn once_keyed<T, K, R, F, Fut>(
        &self,
        change: &Change<T, K>,
        key: &str,
        effect: F,
    ) -> Result<Effect<R>, BoxError>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(EffectKey) -> Fut,
        Fut: Future<Output = Result<R, BoxError>>,
    {
        let key = self.consumer.key(key)?;
        self.run(change, key, effect).await
    }

    async fn run<T, K, R, F, Fut>(&self, change: &Change<T, K>, key: String, effect: F) -> Result<Effect<R>, BoxError>
    where
        R: Serialize + DeserializeOwned,
        F: FnOnce(EffectKey) -> Fut,
        Fut: Future<Output = Result<R, BoxError>>,
    {
        let now = SystemTime::now();
        let lease_until = invocation_deadline().filter(|d| *d > now).unwrap_or(now + self.lease);
        let owner = owner_token();
        if let Some(existing) = self.claim(&key, epoch_ms(now), epoch_ms(lease_until), &owner).await? {
            if !existing.done {
                return Err(format!(
                    "record {} (claim {}) is being processed by another invocation (or one that ended without \
                     finishing), whose claim holds until {} ms: retry after it",
                    change.meta.event_id,
                    label(&key),
                    existing.lease_until_ms
                )
                .into());
            }
            let stored = existing.result.unwrap_or_else(|| "null".into());
            let result = serde_json::from_str(&stored)
                .map_err(|err| format!("the stored result of claim {} does not decode: {err}", label(&key)))?;
            return Ok(Effect::AlreadyDone(result));
        }
        if let Some(refusal) = self.redrive_refusal(change, now) {
            self.release(&key, &owner).await?;
            return Err(refusal.into());
        }
        let effect_key = EffectKey { key: key.clone() };
        // A panic in the effect releases the claim as an error does, then goes on unwinding
        // (the framework contains it as the record's failure).
        match AssertUnwindSafe(async move { effect(effect_key).await }).catch_unwind().await {
            Ok(Ok(result)) => {
                let stored = serde_json::to_string(&result)
                    .map_err(|err| format!("the result of claim {} does not serialize: {err}", label(&key)))?;
                let expires_at = SystemTime::now() + self.claim_lifetime(change);
                self.complete(&key, &owner, stored, epoch_ms(expires_at)).await?;
                Ok(Effect::Ran(result))
            }
            Ok(Err(error)) => match self.release(&key, &owner).await {
                Ok(()) => Err(error),
                Err(release) => Err(format!("{error} (and {release})").into()),
            },
            Err(panic) => {
                if let Err(release) = self.release(&key, &owner).await {
                    tracing::error!(error = %release, "the claim of a panicking effect was not released");
                }
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Under a redrive not told to run them: why `change`'s effect must not run, when its
    /// claim, had the effect run before, may have expired by `now`.
    fn redrive_refusal<T, K>(&self, change: &Change<T, K>, now: SystemTime) -> Option<String> {
        if replay::current().is_none_or(|redrive| redrive.force) {
            return None;
        }
        let lifetime = self.claim_lifetime(change);
        let remembered_until = change.meta.approximate_creation_time.map(|created| created + lifetime);
        if remembered_until.is_some_and(|until| now <= until) {
            return None;
        }
        let made = change.meta.approximate_creation_time.map_or_else(
            || "at an unknown time".to_owned(),
            |created| format!("{} s ago", now.duration_since(created).unwrap_or_default().as_secs()),
        );
        Some(format!(
            "redrive refused record {} (made {made}): its claim is kept {} s after it is done, so had its effect run \
             before, the claim may have expired and the effect would run again; redrive with --force \
             (ExpiredClaims::Run) to run it anyway, or keep claims longer (redrive_window)",
            change.meta.event_id,
            lifetime.as_secs()
        ))
    }

    /// Takes the claim for `owner`; `Some(existing)` when another holds it (done, or leased).
    async fn claim(
        &self,
        key: &str,
        now_ms: u64,
        lease_until_ms: u64,
        owner: &str,
    ) -> Result<Option<Claim>, WriteError> {
        let client = match &self.backend {
            Backend::Memory(claims) => {
                let mut claims = claims.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(existing) = claims.get(key).filter(|c| c.done || c.lease_until_ms >= now_ms) {
                    return Ok(Some(existing.clone()));
                }
                let claim = Claim { done: false, lease_until_ms, result: None, owner: owner.to_owned() };
                claims.insert(key.to_owned(), claim);
                return Ok(None);
            }
            Backend::DynamoDb(client) => client,
        };
        let put = client
            .put_item()
            .table_name(&self.table)
            .item(&self.partition_key, AttributeValue::S(key.to_owned()))
            .item(STATUS, AttributeValue::S(IN_PROGRESS.into()))
            .item(OWNER, AttributeValue::S(owner.to_owned()))
            .item("lease_until", AttributeValue::N(lease_until_ms.to_string()))
            .condition_expression("attribute_not_exists(#pk) OR (#status = :in_progress AND lease_until < :now)")
            .expression_attribute_names("#pk", &self.partition_key)
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
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
                    done: text(STATUS).as_deref() == Some(COMPLETED),
                    lease_until_ms: number("lease_until").unwrap_or(0),
                    result: text("result"),
                    owner: text(OWNER).unwrap_or_default(),
                }))
            }
            Err(err) => Err(WriteError::sdk("PutItem (claim)", &err)),
        }
    }

    /// Why a claim is no longer `owner`'s: what the caller did, undone.
    fn not_held(key: &str, what: &str) -> WriteError {
        WriteError::new(format!(
            "claim {} is no longer this invocation's (its lease ran out and another invocation took it, or it was \
             completed): {what}",
            label(key)
        ))
    }

    /// Marks the claim done with the effect's result, if `owner` still holds it.
    async fn complete(&self, key: &str, owner: &str, result: String, expires_at_ms: u64) -> Result<(), WriteError> {
        let stale = || {
            Self::not_held(
                key,
                "the effect ran here and was not recorded as done; the other invocation may run it again",
            )
        };
        let client = match &self.backend {
            Backend::Memory(claims) => {
                let mut claims = claims.lock().unwrap_or_else(PoisonError::into_inner);
                match claims.get_mut(key) {
                    Some(claim) if !claim.done && claim.owner == owner => {
                        *claim = Claim { done: true, lease_until_ms: 0, result: Some(result), owner: owner.to_owned() };
                        return Ok(());
                    }
                    _ => return Err(stale()),
                }
            }
            Backend::DynamoDb(client) => client,
        };
        let put = client
            .put_item()
            .table_name(&self.table)
            .item(&self.partition_key, AttributeValue::S(key.to_owned()))
            .item(STATUS, AttributeValue::S(COMPLETED.into()))
            .item(OWNER, AttributeValue::S(owner.to_owned()))
            .item("result", AttributeValue::S(result))
            .item("expires_at", AttributeValue::N((expires_at_ms / 1000).to_string()))
            .condition_expression("#status = :in_progress AND #owner = :owner")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(err))
                if matches!(err.err(), PutItemError::ConditionalCheckFailedException(_)) =>
            {
                Err(stale())
            }
            Err(err) => Err(WriteError::sdk("PutItem (done)", &err)),
        }
    }

    /// Deletes the claim, if `owner` still holds it in progress.
    async fn release(&self, key: &str, owner: &str) -> Result<(), WriteError> {
        let stale = || Self::not_held(key, "it was not released");
        let client = match &self.backend {
            Backend::Memory(claims) => {
                let mut claims = claims.lock().unwrap_or_else(PoisonError::into_inner);
                return match claims.get(key) {
                    Some(claim) if !claim.done && claim.owner == owner => {
                        claims.remove(key);
                        Ok(())
                    }
                    _ => Err(stale()),
                };
            }
            Backend::DynamoDb(client) => client,
        };
        let delete = client
            .delete_item()
            .table_name(&self.table)
            .key(&self.partition_key, AttributeValue::S(key.to_owned()))
            .condition_expression("#status = :in_progress AND #owner = :owner")
            .expression_attribute_names("#status", STATUS)
            .expression_attribute_names("#owner", OWNER)
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.into()))
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(err))
                if matches!(
                    err.err(),
                    aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Err(stale())
            }
            Err(err) => Err(WriteError::sdk("DeleteItem (release)", &err)),
        }
    }
}
