//! What the in-memory table and stream refuse.

use std::fmt;

/// A write or read the in-memory table or stream refuses, as DynamoDB would.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableError {
    /// The item lacks a key attribute, or one has a type keys cannot have.
    InvalidKey(String),
    /// An update tried to set or remove a key attribute.
    KeyUpdate(String),
    /// The condition of a conditional write did not hold; nothing was written.
    ConditionalCheckFailed,
    /// No shard has this id.
    UnknownShard(String),
    /// The shard is closed and cannot be split again.
    ShardClosed(String),
    /// A value given as an item does not serialize to a DynamoDB item (a map).
    NotAnItem(String),
    /// A fixture file could not be written.
    Io(String),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKey(detail) => write!(f, "invalid key: {detail}"),
            Self::KeyUpdate(name) => write!(f, "cannot update key attribute `{name}`"),
            Self::ConditionalCheckFailed => f.write_str("the conditional request failed"),
            Self::UnknownShard(id) => write!(f, "no shard `{id}` in this stream"),
            Self::ShardClosed(id) => write!(f, "shard `{id}` is closed"),
            Self::NotAnItem(detail) => write!(f, "not an item: {detail}"),
            Self::Io(detail) => write!(f, "{detail}"),
        }
    }
}

impl std::error::Error for TableError {}
