//! What happened to the item.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The `eventName` of a record: what happened to the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventName {
    /// A new item was added.
    Insert,
    /// An existing item was changed.
    Modify,
    /// An item was deleted, by a user or by TTL expiry.
    Remove,
}

impl EventName {
    /// The name as DynamoDB writes it: `INSERT`, `MODIFY` or `REMOVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Insert => "INSERT",
            Self::Modify => "MODIFY",
            Self::Remove => "REMOVE",
        }
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
