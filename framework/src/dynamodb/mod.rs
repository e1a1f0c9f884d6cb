//! Ordered, exactly-once writes to DynamoDB (feature `dynamodb`).
//!
//! Lambda delivers each record at least once, and after a partial failure it redelivers
//! records that were already processed. [`ExactlyOnce`] makes a change's writes happen at
//! most once per item, and never behind a newer change of that item: a guard item keyed by
//! the consumer and the changed item holds the sequence number of the last change applied,
//! and is checked and written in the same transaction as your writes. A redelivered change,
//! or an older one replayed after a newer, fails the guard's condition, and nothing is
//! written. Guards never expire, so this holds however late a record comes back.
//!
//! **Consumers.** Guards and claims belong to a consumer: under Lambda the function
//! (`AWS_LAMBDA_FUNCTION_NAME`, [`FUNCTION_NAME_ENV`]), elsewhere the name given to
//! `.consumer(..)` (the runner, the redrive and tests must name it; every call fails until
//! they do). Functions sharing a guard or claims table never see each other's entries.
//!
//! ```no_run
//! use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
//! use ddbstream::dynamodb::{Applied, ExactlyOnce};
//! use ddbstream::{BoxError, Change, Item};
//!
//! async fn count(once: &ExactlyOnce, change: Change<Item>) -> Result<(), BoxError> {
//!     let bump = Update::builder()
//!         .table_name("Counters")
//!         .key("pk", AttributeValue::S("all".into()))
//!         .update_expression("ADD changes :one")
//!         .expression_attribute_values(":one", AttributeValue::N("1".into()))
//!         .build()?;
//!     match once.apply(&change, [TransactWriteItem::builder().update(bump).build()]).await? {
//!         Applied::Written => tracing::info!("counted"),
//!         Applied::AlreadyApplied => tracing::info!("a redelivery: counted before"),
//!     }
//!     Ok(())
//! }
//! ```
//!
//! For effects outside DynamoDB (an HTTP call, an e-mail), [`Idempotency`] claims each
//! record before its effect and marks it done after, so a redelivery skips the effect. That
//! is at least once, not exactly once: a crash between the effect and the claim's completion
//! runs the effect again after the claim's lease. The effect is handed an [`EffectKey`], the
//! same on every run: a sink that deduplicates by it (SQS FIFO's `MessageDeduplicationId`,
//! an HTTP `Idempotency-Key`) closes that window.
//!
//! The guard table needs a string partition key (`pk` unless you name another, and
//! optionally a sort key with a fixed value, for single-table designs). The guard item of
//! an item is `{pk: "<consumer>#<table>#<keys as canonical JSON>", last_seq: "<40-digit
//! sequence number>"}`. Logs carry the table and a digest of the key, never its values.
//!
//! # Changes through Kinesis
//!
//! A table's Kinesis streaming destination can deliver changes of one item out of order and
//! more than once, and a Kinesis sequence number orders nothing across shards. For such a
//! change ([`Metadata::via_kinesis`](crate::Metadata::via_kinesis)) the guard orders by the
//! change's `ApproximateCreationDateTime` instead, and tells duplicates apart by `eventID`:
//! it holds `last_time` (40-digit microseconds since the epoch) and `last_events`, the
//! `eventID`s applied at that time.
//!
//! - A change newer than `last_time` is written, and the guard then holds its time and its
//!   event alone; an older one is skipped ([`Applied::AlreadyApplied`]), as is a change whose
//!   `eventID` the guard holds (a duplicate).
//! - **Ties.** The table's `ApproximateCreationDateTimePrecision` (`MILLISECOND` by default,
//!   or `MICROSECOND`) is all the order there is: two changes of one item within one tick
//!   carry the same time, and nothing says which came first. Both are written (each once),
//!   in the order they arrive, which may not be the order they were made. Nothing is lost
//!   or applied twice; but writes that depend on order (a `SET` of the latest status, rather
//!   than an `ADD`) may end with the earlier of the two. Use `MICROSECOND` precision where
//!   that matters.
//! - Do not guard one item from both a DynamoDB stream and a Kinesis destination: the two
//!   orders cannot be compared.
//!
//! # AWS permissions and schema
//!
//! Each type's docs list the calls it makes and the attributes it writes; per table:
//!
//! - A guard table ([`ExactlyOnce`]): partition key `pk` (string), optionally a string sort
//!   key with a fixed value; no TTL on guards. `dynamodb:PutItem`, only inside
//!   `TransactWriteItems`. Through Kinesis also `dynamodb:UpdateItem`, only inside
//!   `TransactWriteItems`, and `dynamodb:GetItem`, a call of its own. For
//!   [`fold`](ExactlyOnce::fold), `dynamodb:GetItem`, a call of its own (read when a refusal
//!   does not carry the guard).
//! - A claims table ([`Idempotency`]): partition key `pk` (string), TTL on `expires_at`.
//!   `dynamodb:PutItem` (taking a claim, and marking it done), `dynamodb:GetItem` and
//!   `dynamodb:DeleteItem`, each a call of its own.
//! - Your tables: each write's own action, inside `TransactWriteItems`: `dynamodb:PutItem`
//!   for a `Put`, `dynamodb:UpdateItem` for an `Update` (a fold's [`Fold::add`] too),
//!   `dynamodb:DeleteItem` for a `Delete`, `dynamodb:ConditionCheckItem` for a
//!   `ConditionCheck`. [`apply_self_guarded`] needs only these: it has no guard table.
//!
//! `TransactWriteItems` has no IAM action of its own: each action in it is authorized as its
//! own operation. An IAM condition on `dynamodb:EnclosingOperation` (`TransactWriteItems`)
//! can grant the actions made only inside transactions only there; it must not be put on
//! the `dynamodb:GetItem` of a guard table, nor on a claims table's actions, which are
//! calls of their own.

mod backend;
mod error;
mod fold;
mod group;
mod guard;
mod guard_item;
mod idempotency;
mod key;
mod limits;
mod self_guarded;
mod transact;
mod twin;

pub use error::WriteError;
pub use fold::{Fold, Folded};
pub use guard::{Applied, ExactlyOnce};
pub use idempotency::{
    Effect, EffectKey, Idempotency, DEFAULT_LEASE, DEFAULT_REDRIVE_WINDOW, KINESIS_MAX_RETENTION, STREAM_RETENTION,
};
pub use key::FUNCTION_NAME_ENV;
pub use limits::{item_size, MAX_ITEM_BYTES, MAX_TRANSACTION_ACTIONS, MAX_TRANSACTION_BYTES};
pub use self_guarded::apply_self_guarded;
pub use twin::TwinFaults;
