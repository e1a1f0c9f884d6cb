//! The runner: the same [`Router`](crate::Router) on a live stream, outside Lambda (during
//! development against a local DynamoDB, in tests, as a long-running consumer). Enable
//! with the `runner` feature. In production at scale, prefer the same router on Lambda's
//! event source mapping: AWS then owns shard assignment, scaling and retries.
//!
//! It reads every shard of a table's stream (all `DescribeStream` pages, children only
//! after their parent is finished), feeds each shard's records to the router in order with
//! Lambda's semantics, checkpoints per shard in a [`CheckpointStore`] (in memory, or a
//! DynamoDB table with conditional writes), retries failures with backoff, hands records
//! that fail every attempt to an on-failure sink (or stops), replaces expired iterators
//! from the checkpoint, backs off when throttled, reports trimmed data as data loss, and
//! stops cleanly on Ctrl-C / SIGTERM. [`Runner::bootstrap`] builds a replica from a scan
//! and the stream without missing a write.
//!
//! Each shard has one owner at a time: a [`Lease`] beside its checkpoint, renewed by a
//! heartbeat. Other runners wait as standbys ([`Runner::standby`]) and take a shard over
//! when its owner releases it (on stopping) or stops renewing it (a crash), after the
//! lease's whole duration. An owner that cannot renew stops starting records before any
//! standby can take over. Within a batch, what is done is checkpointed every
//! [`checkpoint_interval`](Runner::checkpoint_interval), so a crash repeats little.
//!
//! # AWS permissions and schema
//!
//! Listed on each type: [`Runner`] (the whole run), [`DynamoDbStreams`] (the stream: its
//! `DescribeStream`, `GetShardIterator`, `GetRecords`, and `ListStreams` on `"*"`),
//! [`DynamoDbCheckpoints`] (a table with partition key `shard`, string, no TTL:
//! `dynamodb:GetItem` and `dynamodb:UpdateItem`), [`scan_table`] (`dynamodb:Scan`).
//!
//! # Example
//!
//! Against the test kit's in-memory stream (with the `testing` feature); for a live stream,
//! pass `DynamoDbStreams::new(aws_sdk_dynamodbstreams::Client::new(&config))` instead.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//! use ddbstream::runner::{MemoryCheckpoints, Runner};
//! use ddbstream::testing::{KeySchema, LiveStream, Table};
//! use ddbstream::{BoxError, Change, Item, Router, StreamViewType};
//! use serde_dynamo::AttributeValue;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let stream = LiveStream::new(Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewImage));
//! stream.write(|orders| {
//!     for n in 1..=3 {
//!         let item = HashMap::from([("pk".to_owned(), AttributeValue::S(format!("order#{n}")))]);
//!         orders.put(Item::from(item)).unwrap();
//!     }
//! });
//!
//! let seen = Arc::new(Mutex::new(Vec::new()));
//! let log = seen.clone();
//! let router = Router::new().stream("Orders", move |change: Change<Item>| {
//!     log.lock().unwrap().push(change.keys.get("pk").cloned());
//!     async { Ok::<(), BoxError>(()) }
//! });
//! let checkpoints = MemoryCheckpoints::new();
//! let runner = Runner::new(stream.clone(), "Orders", router).checkpoints(checkpoints.clone());
//! let report = runner.run_until_caught_up(std::future::pending()).await.unwrap();
//! assert_eq!(report.processed, 3);
//! assert_eq!(seen.lock().unwrap().len(), 3);
//! assert_eq!(checkpoints.all().len(), 1); // one shard, checkpointed after its last record
//! # });
//! ```

mod bootstrap;
mod builder;
mod call;
mod checkpoint;
mod checkpointing;
mod claim;
mod discovery;
mod drive;
mod dynamodb_checkpoints;
mod dynamodb_streams;
mod health;
mod lease;
mod read;
mod report;
mod session;
mod settings;
mod shard;
mod shutdown;
mod source;
mod step;

pub use bootstrap::{scan_table, Bootstrapped};
pub use builder::Runner;
pub use checkpoint::{Checkpoint, CheckpointError, CheckpointStore, MemoryCheckpoints, Save, ShardEntry};
pub use dynamodb_checkpoints::DynamoDbCheckpoints;
pub use dynamodb_streams::DynamoDbStreams;
pub use lease::Lease;
pub use report::{DataLoss, FailedRecord, RunReport, RunnerError};
pub use settings::{OnDataLoss, StartPosition};
pub use shutdown::signal;
pub use source::{RecordsPage, ShardDescription, ShardList, SourceError, SourceRecord, StartAt, StreamSource};
