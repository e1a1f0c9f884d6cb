//! The routing table: which route handles a record, by its stream.

use std::sync::Arc;

use super::ErasedRoute;
use crate::handler::States;
use crate::payload::{RawRecord, StreamArn};
use crate::Error;

/// Routes by stream ARN and by table name, and the fallback. Shared with the task that
/// processes an invocation's records.
#[derive(Clone, Default)]
pub(crate) struct RouteTable {
    pub(crate) routes: Vec<Arc<dyn ErasedRoute>>,
    pub(crate) by_arn: Vec<(String, usize)>,
    pub(crate) by_table: Vec<(String, usize)>,
    pub(crate) fallback: Option<usize>,
    /// The states handlers may take, by type.
    pub(crate) states: States,
}

impl RouteTable {
    /// The route for a record: `Ok(None)` for a record too malformed to name its stream
    /// (it fails where it stands), an error for a stream nobody handles.
    pub(crate) fn resolve(&self, record: &RawRecord<'_>) -> Result<Option<usize>, Error> {
        if record.via_kinesis {
            // Several tables may stream into one Kinesis stream: the table inside decides.
            let Some(table) = record.table_name() else { return Ok(None) };
            let by_table = self.by_table.iter().find(|(name, _)| name == table).map(|(_, index)| *index);
            return match by_table.or(self.fallback) {
                Some(index) => Ok(Some(index)),
                None => Err(Error::NoRoute {
                    stream_arn: format!(
                        "{} (table `{table}`)",
                        record.event_source_arn().unwrap_or("a Kinesis stream")
                    ),
                    known: self.known_routes(),
                }),
            };
        }
        let Some(arn) = record.event_source_arn() else { return Ok(None) };
        let by_arn = self.by_arn.iter().find(|(name, _)| name == arn);
        let table = StreamArn::parse(arn).map(|parsed| parsed.table);
        let by_table = || self.by_table.iter().find(|(name, _)| Some(name.as_str()) == table);
        match by_arn.or_else(by_table).map(|(_, index)| *index).or(self.fallback) {
            Some(index) => Ok(Some(index)),
            None => Err(Error::NoRoute { stream_arn: arn.to_owned(), known: self.known_routes() }),
        }
    }

    pub(crate) fn route(&self, index: usize) -> &dyn ErasedRoute {
        self.routes[index].as_ref()
    }

    fn known_routes(&self) -> Vec<String> {
        self.by_arn.iter().chain(&self.by_table).map(|(name, _)| name.clone()).collect()
    }
}
