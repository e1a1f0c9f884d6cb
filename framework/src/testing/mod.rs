//! Test kit: an in-memory DynamoDB table and stream, and a simulator of Lambda's event
//! source mapping, to test handlers with realistic events and no AWS.
//!
//! Enable with the `testing` feature, usually as a dev-dependency:
//!
//! ```toml
//! [dev-dependencies]
//! ddbstream = { version = "0.1", features = ["testing"] }
//! ```
//!
//! # Example
//!
//! Write to a table, then drive a router over its stream as Lambda would, failing one
//! record twice before it succeeds:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::sync::Arc;
//! use ddbstream::testing::{EventSourceMapping, Fate, KeySchema, Simulator, Table};
//! use ddbstream::{BoxError, Change, Item, Router, StreamViewType};
//! use serde_dynamo::AttributeValue;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! let mut orders = Table::new("Orders", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
//! for n in 1..=5 {
//!     let item = HashMap::from([
//!         ("pk".to_owned(), AttributeValue::S(format!("order#{n}"))),
//!         ("amount".to_owned(), AttributeValue::N(n.to_string())),
//!     ]);
//!     orders.put(Item::from(item)).unwrap();
//! }
//!
//! let failures_left = Arc::new(AtomicUsize::new(2));
//! let router = Router::new().stream("Orders", move |change: Change<Item>| {
//!     let failures_left = failures_left.clone();
//!     async move {
//!         let is_third = change.keys.get("pk") == Some(&AttributeValue::S("order#3".into()));
//!         if is_third && failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
//!             return Err::<(), BoxError>("transient".into());
//!         }
//!         Ok(())
//!     }
//! });
//!
//! let shard = orders.stream().describe()[0].shard_id.clone();
//! let records = orders.stream().shard_records(&shard).unwrap().to_vec();
//! let mut lambda = Simulator::new(&router, EventSourceMapping::default(), &shard, records.clone());
//! let trace = lambda.run().await;
//! assert_eq!(trace.invocations().len(), 3); // fails at order#3, twice, then all done
//! for record in &records {
//!     assert!(matches!(trace.fate(&record.sequence_number), Fate::Acknowledged(_)));
//! }
//! assert_eq!(trace.attempts(&records[2].sequence_number).len(), 3);
//! # });
//! ```

mod change;
mod error;
mod esm;
mod event;
mod item;
#[cfg(feature = "runner")]
mod live;
mod record;
mod stream;
mod table;
mod window_event;

pub use change::{changes, write_fixture};
pub use error::TableError;
pub use esm::{
    Attempt, ClosedWindow, Delivery, EventSourceMapping, FailureCondition, Fate, InvocationReport, InvocationResult,
    OnFailureRecord, Simulator, Trace,
};
pub use event::{
    batch_len, kinesis_disorder, kinesis_event, kinesis_record, kinesis_sequence_number, lambda_batches, lambda_event,
    pipes_event, MAX_PAYLOAD_BYTES,
};
pub use item::{item_size, KeySchema};
#[cfg(feature = "runner")]
pub use live::{LiveStats, LiveStream};
pub use record::StreamRecord;
pub use stream::{Position, RecordPage, ShardInfo, ShardPage, Stream};
pub use table::{Condition, Table, Update, CLOCK_START};
pub use window_event::{iso8601, window_event, WindowInvocation};

#[cfg(test)]
mod tests;
