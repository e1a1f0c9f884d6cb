//! A function for trying the framework's failure handling from the outside.
//!
//! - Stream of table `Orders`: a typed route over [`Order`] keyed by [`OrderKey`]; inserts
//!   and modifies need the new image, removes need only the key (and use the old image
//!   when the stream carries it).
//! - Every other stream: a fallback route over untyped items.
//!
//! On both, per record, from the image (new, or old for removes): fail when attribute
//! `fail` is `true` (BOOL), panic when `panic` is `true`, sleep `sleep_ms` (N) milliseconds
//! before succeeding, hold the thread (`std::thread::sleep`, as blocking code would)
//! `block_ms` (N) milliseconds before succeeding.
//!
//! Tumbling-window events (from any stream, or through Kinesis) are folded by a window
//! fallback with the same switches (a sleep holds the thread there, as folds are
//! synchronous); its state is `{"records": N}`: the incoming `records` (0 when absent) plus
//! the records folded.

use std::time::Duration;

use ddbstream::{window, BoxError, Change, Item, Router, WindowEnd};
use serde::{Deserialize, Serialize};
use serde_dynamo::AttributeValue;

/// The typed item of the `Orders` table. Attributes not named here are ignored.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Order {
    /// Partition key.
    pub pk: String,
    /// Order amount in cents.
    pub amount: i64,
    /// Order status.
    pub status: String,
    /// Fault switches read from the same image.
    #[serde(flatten)]
    pub faults: Faults,
}

/// The key of the `Orders` table.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct OrderKey {
    /// Partition key.
    pub pk: String,
}

/// What a record asks the function to do wrong.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct Faults {
    /// Return an error.
    #[serde(default)]
    pub fail: bool,
    /// Panic.
    #[serde(default)]
    pub panic: bool,
    /// Sleep this long before succeeding.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Hold the thread this long before succeeding.
    #[serde(default)]
    pub block_ms: u64,
}

impl Faults {
    /// Reads the switches from an untyped image; a switch of the wrong type is an error.
    pub fn from_item(item: &Item) -> Result<Self, BoxError> {
        let flag = |name: &str| match item.get(name) {
            None => Ok(false),
            Some(AttributeValue::Bool(value)) => Ok(*value),
            Some(_) => Err(format!("attribute `{name}` must be a BOOL")),
        };
        let millis = |name: &str| match item.get(name) {
            None => Ok(0),
            Some(AttributeValue::N(n)) => {
                n.parse().map_err(|_| format!("attribute `{name}` must be a whole number of milliseconds"))
            }
            Some(_) => Err(format!("attribute `{name}` must be an N")),
        };
        Ok(Self {
            fail: flag("fail")?,
            panic: flag("panic")?,
            sleep_ms: millis("sleep_ms")?,
            block_ms: millis("block_ms")?,
        })
    }

    /// Panics or fails when the switches say so.
    fn fail_or_panic(&self, what: &str) -> Result<(), BoxError> {
        if self.panic {
            panic!("fault injection: `panic` is set on {what}");
        }
        if self.fail {
            return Err(format!("fault injection: `fail` is set on {what}").into());
        }
        Ok(())
    }

    /// Does what the switches say.
    pub async fn apply(&self, what: &str) -> Result<(), BoxError> {
        self.fail_or_panic(what)?;
        if self.block_ms > 0 {
            std::thread::sleep(Duration::from_millis(self.block_ms));
        }
        if self.sleep_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        }
        Ok(())
    }
}

/// The `Orders` route.
pub async fn on_order(change: Change<Order, OrderKey>) -> Result<(), BoxError> {
    let what = format!("order {}", change.keys.pk);
    let faults = match change.event_name() {
        ddbstream::EventName::Remove => change.old_image().map(|order| order.faults.clone()).unwrap_or_default(),
        _ => change.require_new()?.faults.clone(),
    };
    faults.apply(&what).await
}

/// The switches of an untyped change, read from its new image (its old one for a remove).
fn faults_of(change: &Change<Item>) -> Result<Faults, BoxError> {
    let image = match change.event_name() {
        ddbstream::EventName::Remove => change.old_image(),
        _ => change.new_image(),
    };
    Ok(image.map(Faults::from_item).transpose()?.unwrap_or_default())
}

/// The fallback route: any other stream, untyped.
pub async fn on_other(change: Change<Item>) -> Result<(), BoxError> {
    faults_of(&change)?.apply(&format!("record {}", change.sequence_number())).await
}

/// A window's state: how many records the window has folded. Other fields of an incoming
/// state are ignored.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Serialize)]
pub struct Counted {
    /// Records folded so far in this window.
    #[serde(default)]
    pub records: u64,
}

/// The window fold: the same switches, then one more record.
pub fn count(state: &mut Counted, change: Change<Item>) -> Result<(), BoxError> {
    let faults = faults_of(&change)?;
    faults.fail_or_panic(&format!("record {}", change.sequence_number()))?;
    let hold = faults.block_ms.saturating_add(faults.sleep_ms);
    if hold > 0 {
        std::thread::sleep(Duration::from_millis(hold));
    }
    state.records += 1;
    Ok(())
}

/// The window's final step: logs the count.
pub async fn window_ended(end: WindowEnd<Counted>) -> Result<(), BoxError> {
    tracing::info!(start = %end.start, shard_id = %end.shard_id, records = end.state.records, "window ended");
    Ok(())
}

/// The function's router.
pub fn router() -> Router {
    Router::new().stream("Orders", on_order).fallback(on_other).fallback(window(count, window_ended))
}
