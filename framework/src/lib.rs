//! Typed, ordered, loss-free DynamoDB Streams handlers for AWS Lambda.
//!
//! # Example
//!
//! Declare the item type, write an `async fn` over a typed [`Change`], register it for its
//! stream, and run:
//!
//! ```no_run
//! use ddbstream::{BoxError, Change, ChangeKind, Router};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Order {
//!     pk: String,
//!     amount: i64,
//!     status: String,
//! }
//!
//! async fn on_order(change: Change<Order>) -> Result<(), BoxError> {
//!     match &change.kind {
//!         ChangeKind::Insert { new: Some(order) } => println!("new order {} for {}", order.pk, order.amount),
//!         ChangeKind::Modify { old: Some(old), new: Some(new) } if old.status != new.status => {
//!             println!("order {} is now {}", new.pk, new.status)
//!         }
//!         ChangeKind::Remove { .. } if change.is_ttl_expiry() => println!("order expired"),
//!         _ => {}
//!     }
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_runtime::Error> {
//!     Router::new().stream("Orders", on_order).run().await
//! }
//! ```
//!
//! # What the framework guarantees
//!
//! - **Stream order.** Records are processed in ascending sequence number, compared as
//!   numbers ([`SequenceNumber`]), whatever order the payload lists them in.
//! - **Stop at the first failure.** When a record fails (handler error, panic, a record or
//!   image that does not decode, the deadline margin), no later record is started and the
//!   response names that record's sequence number as the single `batchItemFailures` entry:
//!   Lambda checkpoints there and redelivers it and everything after it. Nothing is
//!   acknowledged that was not processed.
//! - **One bad record fails alone.** The envelope is parsed leniently and each record on
//!   its own; a malformed record fails as that record, with an error naming the field.
//! - **Loud when unsure.** A payload that is not a stream event, a record from a stream with
//!   no route, or a failed record with no numeric sequence number fails the whole
//!   invocation ([`Error`]), never a guessed response.
//! - **Panics contained, deadline kept.** A handler's panic (or one in its error's `Display`,
//!   or in the `Drop` of its abandoned future) fails its record; a handler still running at
//!   the deadline margin is abandoned and its record reported. On a multi-thread tokio
//!   runtime with two or more workers (the default of `#[tokio::main]`) the response reaches
//!   Lambda by the margin even when a handler blocks its thread; on a current-thread runtime
//!   a handler that blocks the only thread delays it, and [`Router::run`] warns at start-up.
//! - **Abandoned work stops first.** Handlers run with a runtime of the router's own as the
//!   current runtime; after an abandonment it is retired (tasks cancelled, blocking work
//!   waited for), and no record starts until everything the abandoned attempt started has
//!   stopped, so it never runs alongside, or after, the redelivery.
//!
//! # Routing
//!
//! A [`Router`] holds one route per stream, by table name or stream ARN, and an optional
//! fallback. A route is a plain record handler, or one built with [`each`] (per change) or
//! [`batch`] (all changes at once), optionally filtered by event name or predicate.
//!
//! # Testing without Lambda
//!
//! [`Router::handle`] takes the event bytes and a [`Context`] and returns the response:
//!
//! ```
//! # use ddbstream::{BoxError, Change, Context, Router};
//! # async fn on_order(_: Change<serde_dynamo::Item>) -> Result<(), BoxError> { Ok(()) }
//! # tokio_test_block_on(async {
//! let router = Router::new().stream("Orders", on_order);
//! let event = br#"{"Records": []}"#;
//! let response = router.handle(event, &Context::default()).await.unwrap();
//! assert!(response.batch_item_failures.is_empty());
//! # });
//! # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
//! # }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod change;
mod contract;
mod decode;
mod decode_error;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
mod error;
mod handler;
pub mod logging;
mod metrics;
#[cfg(any(feature = "dynamodb", feature = "testing"))]
mod number_size;
mod payload;
mod process;
mod redact;
#[cfg(feature = "redrive")]
pub mod redrive;
mod response;
mod route;
mod router;
#[cfg(feature = "runner")]
pub mod runner;
mod source;
#[cfg(feature = "testing")]
pub mod testing;

/// A partial batch response's entry, and `aws_lambda_events`' response type (a
/// [`BatchResponse`] converts into it).
pub use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
/// The payload type [`Router::handle_bytes`] takes.
pub use bytes::Bytes;
pub use change::{Change, ChangeKind, Metadata, MissingImage};
pub use contract::invocation_deadline;
pub use decode_error::DecodeError;
pub use error::{error_chain, BoxError, Error};
pub use handler::{BatchFailure, BatchHandler, RecordHandler, State, WindowEnd, WindowEndHandler};
pub use lambda_runtime::Context;
pub use metrics::METRICS_NAMESPACE_ENV;
pub use payload::{EventName, SequenceNumber, StreamArn, StreamViewType, UserIdentity};
pub use response::BatchResponse;
pub use route::{batch, each, window, Batch, Each, IntoRoute, Route, Window, MAX_WINDOW_STATE_BYTES};
pub use router::serve::DEADLINE_MARGIN_ENV;
pub use router::Router;
pub use router::DEFAULT_DEADLINE_MARGIN;
pub use serde_dynamo::Item;

/// The README's code blocks, compiled as doctests so the README stays true (with the
/// `dynamodb` feature, which its exactly-once example uses; `make test` enables it).
#[cfg(all(doctest, feature = "dynamodb"))]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
