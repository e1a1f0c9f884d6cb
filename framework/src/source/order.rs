//! Stream order: the order in which a batch's records are processed.

use crate::payload::Record;

/// Sorts records into stream order: ascending sequence number compared as a number, ties
/// (duplicated numbers in hand-written payloads) in payload order.
///
/// Records without a numeric sequence number go first. That order is what makes them safe:
/// such a record cannot be reported, so if it fails the whole invocation fails and Lambda
/// retries everything; and if it succeeds before a reportable record fails, it has been
/// processed whichever side of Lambda's checkpoint it falls on.
pub(crate) fn into_stream_order(records: &mut [Record<'_>]) {
    fn key<'r>(record: &'r Record<'_>) -> Option<&'r crate::payload::SequenceNumber> {
        record.sequence_number().filter(|s| s.is_numeric())
    }
    records.sort_by(|a, b| key(a).cmp(&key(b)));
}
