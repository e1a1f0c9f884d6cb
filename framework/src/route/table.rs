//! The routing table: which route handles a record, by its stream, and which window route
//! folds a window event.

use std::sync::Arc;

use super::into_route::{ErasedRoute, ErasedWindow, RouteKind};
use crate::error::Error;
use crate::handler::States;
use crate::payload::{Record, StreamArn};

/// Routes by stream ARN and by table name, and the fallback; window routes likewise. Shared
/// with the task that processes an invocation's records.
#[derive(Clone, Default)]
pub(crate) struct RouteTable {
    pub(crate) routes: Vec<Arc<dyn ErasedRoute>>,
    pub(crate) plain: Names,
    pub(crate) windows: Vec<Arc<dyn ErasedWindow>>,
    pub(crate) windowed: Names,
    /// The states handlers may take, by type.
    pub(crate) states: States,
}

/// Which route (an index) each stream name leads to.
#[derive(Clone, Default)]
pub(crate) struct Names {
    pub(crate) by_arn: Vec<(String, usize)>,
    pub(crate) by_table: Vec<(String, usize)>,
    pub(crate) fallback: Option<usize>,
}

impl Names {
    /// Adds a name; `false` if it is taken.
    pub(crate) fn add(&mut self, stream: &str, index: usize) -> bool {
        let names = if stream.starts_with("arn:") { &mut self.by_arn } else { &mut self.by_table };
        if names.iter().any(|(name, _)| name == stream) {
            return false;
        }
        names.push((stream.to_owned(), index));
        true
    }

    /// The route for a record: `Ok(None)` for a record too malformed to name its stream
    /// (it fails where it stands), an error for a stream nobody handles.
    fn resolve(&self, record: &Record<'_>) -> Result<Option<usize>, Error> {
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
                    known: self.known(),
                }),
            };
        }
        let Some(arn) = record.event_source_arn() else { return Ok(None) };
        self.by_stream_arn(arn).map(Some)
    }

    /// The route for a DynamoDB stream's ARN.
    fn by_stream_arn(&self, arn: &str) -> Result<usize, Error> {
        let by_arn = self.by_arn.iter().find(|(name, _)| name == arn);
        let table = StreamArn::parse(arn).map(|parsed| parsed.table);
        let by_table = || self.by_table.iter().find(|(name, _)| Some(name.as_str()) == table);
        match by_arn.or_else(by_table).map(|(_, index)| *index).or(self.fallback) {
            Some(index) => Ok(index),
            None => Err(Error::NoRoute { stream_arn: arn.to_owned(), known: self.known() }),
        }
    }

    fn known(&self) -> Vec<String> {
        self.by_arn.iter().chain(&self.by_table).map(|(name, _)| name.clone()).collect()
    }
}

impl RouteTable {
    /// Keeps a route with the others of its kind: its index, and the names that lead to
    /// routes of that kind, for the caller to name it in.
    pub(crate) fn register(&mut self, route: RouteKind) -> (&mut Names, usize) {
        match route {
            RouteKind::Plain(route) => {
                self.routes.push(Arc::from(route));
                (&mut self.plain, self.routes.len() - 1)
            }
            RouteKind::Window(route) => {
                self.windows.push(Arc::from(route));
                (&mut self.windowed, self.windows.len() - 1)
            }
        }
    }

    /// The (plain) route for a record: `Ok(None)` for a record too malformed to name its
    /// stream (it fails where it stands), an error for a stream nobody handles.
    pub(crate) fn resolve(&self, record: &Record<'_>) -> Result<Option<usize>, Error> {
        self.plain.resolve(record).map_err(|error| match error {
            Error::NoRoute { stream_arn, .. } if matches!(self.windowed.resolve(record), Ok(Some(_))) => {
                Error::Unsupported(format!(
                    "stream `{stream_arn}` has only a window route, and this event is not a tumbling window's: set \
                 TumblingWindowInSeconds on its event source mapping, or register a plain route for it"
                ))
            }
            error => error,
        })
    }

    pub(crate) fn route(&self, index: usize) -> &dyn ErasedRoute {
        self.routes[index].as_ref()
    }

    /// The window route that folds a window event: the one every record leads to; for a
    /// window event without records, the one its `eventSourceARN` leads to, or the only one
    /// (a Kinesis stream's ARN names no table).
    pub(crate) fn window_for(&self, records: &[Record<'_>], source_arn: &str) -> Result<&dyn ErasedWindow, Error> {
        let unsupported = |stream: &str| {
            Error::Unsupported(format!(
                "a tumbling-window event from `{stream}`, which has no window route: its answer must carry the \
                 window's `state`; register a route built with ddbstream::window for it, or remove \
                 TumblingWindowInSeconds from its event source mapping"
            ))
        };
        let mut chosen: Option<usize> = None;
        for record in records {
            let index = match self.windowed.resolve(record) {
                Ok(Some(index)) => index,
                // Too malformed to name its stream: it fails where it stands, in the fold.
                Ok(None) => continue,
                Err(Error::NoRoute { stream_arn, .. }) => return Err(unsupported(&stream_arn)),
                Err(error) => return Err(error),
            };
            match chosen {
                Some(seen) if seen != index => {
                    return Err(Error::Unsupported(format!(
                        "a tumbling-window event whose records lead to two window routes (a Kinesis stream \
                         carrying several tables, from `{source_arn}`): one shard's window has one state; register \
                         one window route for all of them with Router::fallback"
                    )))
                }
                _ => chosen = Some(index),
            }
        }
        let index = match chosen {
            Some(index) => index,
            None => match self.windowed.by_stream_arn(source_arn) {
                Ok(index) => index,
                Err(_) if self.windows.len() == 1 => 0,
                Err(_) => return Err(unsupported(source_arn)),
            },
        };
        Ok(self.windows[index].as_ref())
    }
}
