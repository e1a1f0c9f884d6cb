//! The batch loop: records in stream order, each run of records handed to its route, stop
//! at the first failure.

use super::{order::into_stream_order, Deadline, Failure, SegmentFailure};
use crate::metrics::Stats;
use crate::payload::{split_records, RawRecord};
use crate::route::Router;
use crate::{Error, StreamArn};

/// How far a batch got.
pub(crate) enum Outcome<'p> {
    /// Every record was processed or filtered out.
    Completed { records: usize },
    /// `record` failed; the `processed` records before it in stream order succeeded and
    /// nothing after it was started.
    Stopped { record: Box<RawRecord<'p>>, failure: Failure, processed: usize },
}

/// Processes a payload. Returns `Err` only for what fails the whole invocation: a payload
/// that is not a stream event, or a record of a stream nobody routes.
pub(crate) async fn process<'p>(
    router: &Router,
    payload: &'p [u8],
    deadline: &Deadline,
    stats: &Stats,
) -> Result<Outcome<'p>, Error> {
    let mut records: Vec<RawRecord<'p>> = split_records(payload)?
        .into_iter()
        .enumerate()
        .map(|(position, raw)| RawRecord::parse(position, raw))
        .collect();
    into_stream_order(&mut records);
    let table = records.iter().find_map(|r| r.event_source_arn().and_then(StreamArn::parse)).map(|arn| arn.table);
    let created = records.iter().filter_map(|r| r.parsed.as_ref().ok()?.dynamodb.approximate_creation_date_time);
    stats.received(records.len(), table, created);
    // A batch is one stream's records: resolve each distinct ARN once.
    let mut last: Option<(Option<&str>, Option<usize>)> = None;
    let mut routes = Vec::with_capacity(records.len());
    for record in &records {
        let arn = record.event_source_arn();
        let route = match last {
            Some((seen, route)) if seen == arn => route,
            _ => router.resolve(record)?,
        };
        last = Some((arn, route));
        routes.push(route);
    }

    let mut start = 0;
    while start < records.len() {
        let route = routes[start];
        let end = start + routes[start..].iter().take_while(|&&r| r == route).count();
        let segment = &records[start..end];
        let failed = match route {
            Some(route) => router.route(route).process(segment, deadline, router.per_key, stats).await,
            None => Some(unroutable_malformed(&segment[0])),
        };
        if let Some(SegmentFailure { index, failure }) = failed {
            let processed = start + index;
            let record = Box::new(records.swap_remove(processed));
            return Ok(Outcome::Stopped { record, failure, processed });
        }
        start = end;
    }
    Ok(Outcome::Completed { records: records.len() })
}

/// A record too malformed to name its stream fails where it stands.
fn unroutable_malformed(record: &RawRecord<'_>) -> SegmentFailure {
    let error = match &record.parsed {
        Err(malformed) => malformed.error.clone(),
        Ok(_) => crate::DecodeError::new("record", "eventSourceARN", "missing"),
    };
    SegmentFailure { index: 0, failure: Failure::Decode(error) }
}
