//! The batch loop: the ingested records (in stream order), each run of one stream's records
//! handed to its route, stop at the first failure.

use crate::contract::{Failure, Invocation, SegmentFailure};
use crate::error::Error;
use crate::payload::Record;
use crate::payload::SequenceNumber;
use crate::route::RouteTable;
use crate::source::{self, Identifier};

/// How far a batch got, and for a window event the state to answer with.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Every record was processed or filtered out.
    Completed { records: usize, state: Option<serde_json::Value> },
    /// `record` failed; the `processed` records before it in stream order succeeded and
    /// nothing after it was started.
    Stopped { record: Reported, failure: Failure, processed: usize, state: Option<serde_json::Value> },
}

/// What the answer needs of the record it names.
#[derive(Debug)]
pub(crate) struct Reported {
    /// Its position in the payload's records.
    pub(crate) position: usize,
    /// What the answer names it by, as its source wants it (a numeric sequence number, or
    /// a pipe's non-empty `eventID`); `None` if it has none.
    pub(crate) identifier: Option<String>,
    pub(crate) event_id: Option<String>,
}

impl Reported {
    fn of(record: &Record<'_>, identifier: Identifier) -> Self {
        let identifier = match identifier {
            Identifier::SequenceNumber => {
                record.sequence_number().filter(|s| s.is_numeric()).map(SequenceNumber::to_string)
            }
            Identifier::EventId => record.event_id().filter(|id| !id.is_empty()).map(str::to_owned),
        };
        Self { position: record.position, identifier, event_id: record.event_id().map(str::to_owned) }
    }
}

/// Processes a payload. Returns `Err` only for what fails the whole invocation: a payload
/// that is not a stream event, a record of a stream nobody routes, a window's state or
/// final step that failed.
pub(crate) async fn process(table: &RouteTable, payload: &[u8], invocation: &Invocation) -> Result<Outcome, Error> {
    let ingested = source::ingest(payload)?;
    let (records, identifier) = ingested.records_in_order();
    let stream = records.iter().find_map(|r| r.table());
    let created = records.iter().filter_map(|r| r.parsed.as_ref().ok()?.dynamodb.approximate_creation_date_time);
    invocation.stats.received(records.len(), stream, created);
    if let Some(window) = ingested.window() {
        let route = table.window_for(&records, &window.event_source_arn)?;
        invocation.progress.start(records.len());
        let run = route.fold(&records, window, invocation).await?;
        let state = Some(run.state);
        return Ok(match run.failure {
            None => Outcome::Completed { records: records.len(), state },
            Some(SegmentFailure { index, failure }) => {
                Outcome::Stopped { record: Reported::of(&records[index], identifier), failure, processed: index, state }
            }
        });
    }
    // A batch is one stream's records: resolve each distinct ARN once.
    let mut last: Option<(Option<&str>, Option<usize>)> = None;
    let mut routes = Vec::with_capacity(records.len());
    for record in &records {
        let arn = record.event_source_arn();
        let route = match last {
            Some((seen, route)) if seen == arn => route,
            _ => table.resolve(record)?,
        };
        last = Some((arn, route));
        routes.push(route);
    }
    invocation.progress.start(records.len());

    let mut start = 0;
    while start < records.len() {
        let route = routes[start];
        let end = start + routes[start..].iter().take_while(|&&r| r == route).count();
        let segment = &records[start..end];
        let failed = match route {
            Some(route) => table.route(route).process(segment, start, invocation).await,
            None => Some(unroutable_malformed(&segment[0])),
        };
        if let Some(SegmentFailure { index, failure }) = failed {
            let processed = start + index;
            let record = Reported::of(&records[processed], identifier);
            return Ok(Outcome::Stopped { record, failure, processed, state: None });
        }
        start = end;
    }
    Ok(Outcome::Completed { records: records.len(), state: None })
}

/// The outcome read from `invocation`'s progress, for when its records could not finish:
/// the first record not done is reported with `failure`, every record before it was
/// processed. A window event cannot be answered so (its state is in the abandoned work):
/// it fails, and Lambda retries it with the state it started with.
pub(crate) fn outcome_so_far(payload: &[u8], invocation: &Invocation, failure: Failure) -> Result<Outcome, Error> {
    let ingested = source::ingest(payload)?;
    if ingested.window().is_some() {
        return Err(Error::Window(format!(
            "the window's batch did not finish ({failure}): nothing is answered, and Lambda retries it with the \
             state it started with"
        )));
    }
    let (records, identifier) = ingested.records_in_order();
    match invocation.progress.first_pending().filter(|&index| index < records.len()) {
        None => Ok(Outcome::Completed { records: records.len(), state: None }),
        Some(index) => Ok(Outcome::Stopped {
            record: Reported::of(&records[index], identifier),
            failure,
            processed: index,
            state: None,
        }),
    }
}

/// What the answer would name each of a payload's records by, in stream order (`None` for
/// a record without one): the redrive reports each record by it.
#[cfg(feature = "redrive")]
pub(crate) fn identifiers(payload: &[u8]) -> Result<Vec<Option<String>>, Error> {
    let ingested = source::ingest(payload)?;
    let (records, identifier) = ingested.records_in_order();
    Ok(records.iter().map(|record| Reported::of(record, identifier).identifier).collect())
}

/// A record too malformed to name its stream fails where it stands.
fn unroutable_malformed(record: &Record<'_>) -> SegmentFailure {
    let error = match &record.parsed {
        Err(malformed) => malformed.error.clone(),
        Ok(_) => crate::decode_error::DecodeError::new("record", "eventSourceARN", "missing"),
    };
    SegmentFailure { index: 0, failure: Failure::Decode(error) }
}
