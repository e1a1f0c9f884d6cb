//! A handler asked for an image its record does not carry.

use std::fmt;

use super::metadata::Metadata;

/// A handler asked for an image its record does not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingImage {
    message: String,
}

impl MissingImage {
    pub(crate) fn new(image: &str, meta: &Metadata) -> Self {
        let message = format!(
            "{} record {} carries no {image}: the stream's view type is {}; the handler needs {}",
            meta.event_name,
            meta.sequence_number,
            meta.view_type,
            if image == "NewImage" { "NEW_IMAGE or NEW_AND_OLD_IMAGES" } else { "OLD_IMAGE or NEW_AND_OLD_IMAGES" },
        );
        Self { message }
    }
}

impl fmt::Display for MissingImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MissingImage {}
