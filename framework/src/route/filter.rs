//! Which changes a route hands to its handler, and how a record is selected for it: the same
//! for a per-change route and a whole-batch route.

use serde::de::DeserializeOwned;

use crate::change::Change;
use crate::contract::{contained, log_record_contents, Failure};
use crate::decode::decode_record;
use crate::metrics::Stats;
use crate::payload::EventName;
use crate::payload::Record;

type Predicate<T, K> = Box<dyn Fn(&Change<T, K>) -> bool + Send + Sync>;

/// A route's filter: event names, then predicates on the decoded change. A record the
/// filter rejects counts as processed. With `log_items`, a selected record's contents are
/// logged.
pub(crate) struct Filter<T, K> {
    events: [bool; 3],
    predicates: Vec<Predicate<T, K>>,
    pub(crate) log_items: bool,
}

impl<T, K> Default for Filter<T, K> {
    fn default() -> Self {
        Self { events: [true; 3], predicates: Vec::new(), log_items: false }
    }
}

impl<T, K> Filter<T, K> {
    pub(crate) fn only(&mut self, events: impl IntoIterator<Item = EventName>) {
        self.events = [false; 3];
        for event in events {
            self.events[slot(event)] = true;
        }
    }

    pub(crate) fn add(&mut self, predicate: impl Fn(&Change<T, K>) -> bool + Send + Sync + 'static) {
        self.predicates.push(Box::new(predicate));
    }

    /// Whether a record with this event name may pass; `None` (a malformed record) passes
    /// so that it fails in decoding rather than being silently skipped.
    pub(crate) fn accepts_event(&self, event: Option<EventName>) -> bool {
        event.is_none_or(|event| self.events[slot(event)])
    }

    /// Selects a record for the handler: its event name first (`ready` then runs, before
    /// anything is decoded: a per-change route checks its deadline there), then the decoded
    /// change against the predicates. `Ok(None)`: filtered out, and counted so. A selected
    /// record's contents are logged when the route logs items.
    pub(crate) fn select(
        &self,
        record: &Record<'_>,
        stats: &Stats,
        ready: impl FnOnce() -> Result<(), Failure>,
    ) -> Result<Option<Change<T, K>>, Failure>
    where
        T: DeserializeOwned + 'static,
        K: DeserializeOwned + 'static,
    {
        if !self.accepts_event(record.event_name()) {
            tracing::debug!("filtered out by event name");
            stats.filtered();
            return Ok(None);
        }
        ready()?;
        let Some(change) = self.admit(record)? else {
            tracing::debug!("filtered out by predicate");
            stats.filtered();
            return Ok(None);
        };
        if self.log_items {
            log_record_contents(record);
        }
        Ok(Some(change))
    }

    /// Decodes a record and applies the predicates: `Ok(None)` when filtered out. A panic in
    /// the user's `Deserialize` code or in a predicate fails the record like any failure.
    pub(crate) fn admit(&self, record: &Record<'_>) -> Result<Option<Change<T, K>>, Failure>
    where
        T: DeserializeOwned + 'static,
        K: DeserializeOwned + 'static,
    {
        let change = contained(|| decode_record::<T, K>(record))?.map_err(Failure::Decode)?;
        let accepted = contained(|| self.predicates.iter().all(|predicate| predicate(&change)))?;
        Ok(accepted.then_some(change))
    }
}

fn slot(event: EventName) -> usize {
    match event {
        EventName::Insert => 0,
        EventName::Modify => 1,
        EventName::Remove => 2,
    }
}
