//! Which images a stream carries.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::event_name::EventName;

/// The stream's `StreamViewType`: which item images its records carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StreamViewType {
    /// Only the key attributes.
    KeysOnly,
    /// The item as it is after the change.
    NewImage,
    /// The item as it was before the change.
    OldImage,
    /// Both images.
    NewAndOldImages,
}

impl StreamViewType {
    /// The name as DynamoDB writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeysOnly => "KEYS_ONLY",
            Self::NewImage => "NEW_IMAGE",
            Self::OldImage => "OLD_IMAGE",
            Self::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    /// Whether a record of this view type carries `NewImage` for this event: inserts and
    /// modifies on `NEW_IMAGE` and `NEW_AND_OLD_IMAGES` streams.
    pub fn carries_new_image(self, event: EventName) -> bool {
        matches!(self, Self::NewImage | Self::NewAndOldImages) && event != EventName::Remove
    }

    /// Whether a record of this view type carries `OldImage` for this event: modifies and
    /// removes on `OLD_IMAGE` and `NEW_AND_OLD_IMAGES` streams.
    pub fn carries_old_image(self, event: EventName) -> bool {
        matches!(self, Self::OldImage | Self::NewAndOldImages) && event != EventName::Insert
    }
}

impl fmt::Display for StreamViewType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
