//! The guard item's attributes and the conditions its writes carry: one place for the
//! guard's writers (single changes and folds) and the twin that judges them.

/// The attribute holding the last applied sequence number (40 digits).
pub(super) const LAST_SEQ: &str = "last_seq";
/// Through Kinesis: the last applied creation time (40-digit microseconds since the epoch)...
pub(super) const LAST_TIME: &str = "last_time";
/// ...and the `eventID`s applied at that time.
pub(super) const LAST_EVENTS: &str = "last_events";

/// A guard `Put`'s condition: no guard yet, or one below `:seq` (`#last` is [`LAST_SEQ`]).
pub(super) const SEQ_CONDITION: &str = "attribute_not_exists(#last) OR #last < :seq";
/// A Kinesis guard `Put`'s condition: no guard yet, or one older than `:time` (`#time` is
/// [`LAST_TIME`]).
pub(super) const TIME_CONDITION: &str = "attribute_not_exists(#time) OR #time < :time";
/// A Kinesis guard `Update`'s condition for a tie: the same time, and `:event` not applied
/// (`#events` is [`LAST_EVENTS`]).
pub(super) const TIE_CONDITION: &str = "#time = :time AND NOT contains(#events, :event)";
