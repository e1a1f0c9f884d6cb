//! Which changes a route hands to its handler.

use serde::de::DeserializeOwned;

use crate::decode::decode_record;
use crate::payload::RawRecord;
use crate::process::{contained, Failure};
use crate::{Change, EventName};

type Predicate<T, K> = Box<dyn Fn(&Change<T, K>) -> bool + Send + Sync>;

/// A route's filter: event names, then predicates on the decoded change. A record the
/// filter rejects counts as processed.
pub(crate) struct Filter<T, K> {
    events: [bool; 3],
    predicates: Vec<Predicate<T, K>>,
}

impl<T, K> Default for Filter<T, K> {
    fn default() -> Self {
        Self { events: [true; 3], predicates: Vec::new() }
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

    /// Decodes a record and applies the predicates: `Ok(None)` when filtered out. A panic in
    /// the user's `Deserialize` code or in a predicate fails the record like any failure.
    pub(crate) fn admit(&self, record: &RawRecord<'_>) -> Result<Option<Change<T, K>>, Failure>
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
