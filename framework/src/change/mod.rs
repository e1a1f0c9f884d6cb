//! The typed change a handler receives.

mod metadata;
mod missing_image;

use crate::payload::EventName;
pub(crate) use metadata::creation_time;
pub use metadata::Metadata;
pub use missing_image::MissingImage;

/// One change to one item, decoded into the route's types.
///
/// `T` is the item type its images decode into, `K` the type of its key attributes
/// (`serde_dynamo::Item` unless the handler names one). Images are present exactly when the
/// stream's view type carries them: a `KEYS_ONLY` stream's insert has `new: None`.
/// Use [`Change::new_image`] / [`Change::require_new`] to read them.
#[derive(Clone, Debug, PartialEq)]
pub struct Change<T, K = serde_dynamo::Item> {
    /// The key attributes of the item (`Keys`).
    pub keys: K,
    /// What happened, with the images the stream carries.
    pub kind: ChangeKind<T>,
    /// Sequence number, event id, table, region, time, size, view type, identity.
    pub meta: Metadata,
}

/// What happened to the item, with the images the record carried.
#[derive(Clone, Debug, PartialEq)]
pub enum ChangeKind<T> {
    /// The item was created. `new` is `None` on `KEYS_ONLY` and `OLD_IMAGE` streams.
    Insert {
        /// The item as written.
        new: Option<T>,
    },
    /// The item was changed. Each image is present only if the view type carries it.
    Modify {
        /// The item before the change.
        old: Option<T>,
        /// The item after the change.
        new: Option<T>,
    },
    /// The item was deleted. `old` is `None` on `KEYS_ONLY` and `NEW_IMAGE` streams.
    Remove {
        /// The item as it was.
        old: Option<T>,
    },
}

impl<T, K> Change<T, K> {
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub fn event_name(&self) -> EventName {
        self.meta.event_name
    }

    /// The item after the change, if the record carries it.
    pub fn new_image(&self) -> Option<&T> {
        match &self.kind {
            ChangeKind::Insert { new } | ChangeKind::Modify { new, .. } => new.as_ref(),
            ChangeKind::Remove { .. } => None,
        }
    }

    /// The item before the change, if the record carries it.
    pub fn old_image(&self) -> Option<&T> {
        match &self.kind {
            ChangeKind::Modify { old, .. } | ChangeKind::Remove { old } => old.as_ref(),
            ChangeKind::Insert { .. } => None,
        }
    }

    /// The item after the change, or an error naming the view type and event that do not
    /// carry one: use it where a handler cannot work without the new image.
    pub fn require_new(&self) -> Result<&T, MissingImage> {
        self.new_image().ok_or_else(|| MissingImage::new("NewImage", &self.meta))
    }

    /// The item before the change, or an error naming the view type and event.
    pub fn require_old(&self) -> Result<&T, MissingImage> {
        self.old_image().ok_or_else(|| MissingImage::new("OldImage", &self.meta))
    }

    /// Whether this is a delete made by DynamoDB's TTL process.
    pub fn is_ttl_expiry(&self) -> bool {
        self.meta.is_ttl_expiry()
    }

    /// The record's sequence number.
    pub fn sequence_number(&self) -> &crate::payload::SequenceNumber {
        &self.meta.sequence_number
    }
}
