//! The in-memory table: writes that produce the stream records DynamoDB would.

use std::collections::{BTreeMap, HashMap};

use serde_dynamo::{AttributeValue, Item};

use super::error::TableError;
use super::item::{item_size, key_text, normalize, KeySchema};
use super::record::StreamRecord;
use super::stream::Stream;
use crate::payload::{EventName, StreamViewType};

/// What a conditional write requires of the item as it is.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// The item exists (`attribute_exists(<hash key>)`).
    Exists,
    /// The item does not exist (`attribute_not_exists(<hash key>)`).
    NotExists,
    /// The item exists and has this attribute.
    AttributeExists(String),
    /// The item does not exist or lacks this attribute.
    AttributeNotExists(String),
    /// The item exists and the attribute equals this value.
    Equals(String, AttributeValue),
}

impl Condition {
    fn holds(&self, item: Option<&Item>) -> bool {
        match self {
            Self::Exists => item.is_some(),
            Self::NotExists => item.is_none(),
            Self::AttributeExists(name) => item.is_some_and(|i| i.contains_key(name)),
            Self::AttributeNotExists(name) => !item.is_some_and(|i| i.contains_key(name)),
            Self::Equals(name, value) => {
                let wanted = normalize(Item::from(HashMap::from([(name.clone(), value.clone())])));
                item.is_some_and(|i| i.get(name) == wanted.get(name))
            }
        }
    }
}

/// An `UpdateItem`: attributes to set and attributes to remove.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Update {
    set: Vec<(String, AttributeValue)>,
    remove: Vec<String>,
}

impl Update {
    /// An update that changes nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// `SET name = value`.
    pub fn set(mut self, name: &str, value: AttributeValue) -> Self {
        self.set.push((name.to_owned(), value));
        self
    }

    /// `REMOVE name`.
    pub fn remove(mut self, name: &str) -> Self {
        self.remove.push(name.to_owned());
        self
    }
}

/// A DynamoDB table with a stream, in memory, on a virtual clock.
#[derive(Clone, Debug)]
pub struct Table {
    name: String,
    schema: KeySchema,
    view_type: StreamViewType,
    region: String,
    ttl_attribute: Option<String>,
    items: BTreeMap<String, Item>,
    stream: Stream,
    clock: u64,
    events: u64,
}

/// Where the virtual clock starts (epoch seconds, November 2026).
pub const CLOCK_START: u64 = 1_795_000_000;

impl Table {
    /// A table in `eu-west-1`, account `123456789012`, whose stream has the given view type.
    pub fn new(name: &str, schema: KeySchema, view_type: StreamViewType) -> Self {
        Self::in_region(name, schema, view_type, "eu-west-1")
    }

    /// A table in another Region.
    pub fn in_region(name: &str, schema: KeySchema, view_type: StreamViewType, region: &str) -> Self {
        let arn = format!("arn:aws:dynamodb:{region}:123456789012:table/{name}/stream/2026-11-01T00:00:00.000");
        Self {
            name: name.to_owned(),
            schema,
            view_type,
            region: region.to_owned(),
            ttl_attribute: None,
            items: BTreeMap::new(),
            stream: Stream::new(arn),
            clock: CLOCK_START,
            events: 0,
        }
    }

    /// Enables TTL on an attribute holding epoch seconds (an N); see [`expire_due`](Self::expire_due).
    pub fn with_ttl(mut self, attribute: &str) -> Self {
        self.ttl_attribute = Some(attribute.to_owned());
        self
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The table's key schema.
    pub fn key_schema(&self) -> &KeySchema {
        &self.schema
    }

    /// The table's stream.
    pub fn stream(&self) -> &Stream {
        &self.stream
    }

    /// The table's stream, to split shards.
    pub fn stream_mut(&mut self) -> &mut Stream {
        &mut self.stream
    }

    /// Disables the stream and enables it again, as `UpdateTable` twice: the old stream's
    /// shards are closed (still readable, as for 24 hours on AWS) and handed back; a new
    /// stream, with the ARN label `label`, receives the writes from now on.
    pub fn reenable_stream(&mut self, label: &str) -> Stream {
        let arn = match self.stream.arn().rsplit_once("/stream/") {
            Some((table, _)) => format!("{table}/stream/{label}"),
            None => format!("{}/stream/{label}", self.stream.arn()),
        };
        let mut old = std::mem::replace(&mut self.stream, Stream::new(arn));
        old.close();
        old
    }

    /// The virtual clock, in epoch seconds.
    pub fn now(&self) -> u64 {
        self.clock
    }

    /// Moves the virtual clock forward.
    pub fn advance(&mut self, seconds: u64) {
        self.clock += seconds;
    }

    /// The item with this key.
    pub fn get(&self, key: &Item) -> Option<&Item> {
        let key = self.schema.key_of(key).ok()?;
        self.items.get(&key_text(&key))
    }

    /// Every item, in key order.
    pub fn items(&self) -> Vec<Item> {
        self.items.values().cloned().collect()
    }

    /// `PutItem`: creates or replaces the item. The record, or `None` if nothing changed.
    pub fn put(&mut self, item: Item) -> Result<Option<StreamRecord>, TableError> {
        self.put_when(item, None)
    }

    /// `PutItem` of any serializable value (a struct of yours), turned into an item as
    /// `serde_dynamo::to_item` does.
    pub fn put_value<V: serde::Serialize>(&mut self, value: &V) -> Result<Option<StreamRecord>, TableError> {
        let item: Item = serde_dynamo::to_item(value).map_err(|err| TableError::NotAnItem(err.to_string()))?;
        self.put(item)
    }

    /// `PutItem` with a condition on the item as it is.
    pub fn put_if(&mut self, item: Item, condition: &Condition) -> Result<Option<StreamRecord>, TableError> {
        self.put_when(item, Some(condition))
    }

    fn put_when(&mut self, item: Item, condition: Option<&Condition>) -> Result<Option<StreamRecord>, TableError> {
        let item = normalize(item);
        let key = key_text(&self.schema.key_of(&item)?);
        self.check(&key, condition)?;
        Ok(self.write(key, Some(item), false))
    }

    /// `UpdateItem`: sets and removes attributes, creating the item if it does not exist.
    pub fn update(&mut self, key: Item, update: &Update) -> Result<Option<StreamRecord>, TableError> {
        self.update_when(key, update, None)
    }

    /// `UpdateItem` with a condition on the item as it is.
    pub fn update_if(
        &mut self,
        key: Item,
        update: &Update,
        condition: &Condition,
    ) -> Result<Option<StreamRecord>, TableError> {
        self.update_when(key, update, Some(condition))
    }

    fn update_when(
        &mut self,
        key: Item,
        update: &Update,
        condition: Option<&Condition>,
    ) -> Result<Option<StreamRecord>, TableError> {
        let key = normalize(self.schema.key_of(&key)?);
        for name in update.set.iter().map(|(name, _)| name).chain(&update.remove) {
            if self.schema.names().any(|key_name| key_name == name) {
                return Err(TableError::KeyUpdate(name.clone()));
            }
        }
        let text = key_text(&key);
        self.check(&text, condition)?;
        let mut attributes: HashMap<String, AttributeValue> = self.items.get(&text).cloned().unwrap_or(key).into();
        for (name, value) in &update.set {
            attributes.insert(name.clone(), value.clone());
        }
        for name in &update.remove {
            attributes.remove(name);
        }
        Ok(self.write(text, Some(normalize(Item::from(attributes))), false))
    }

    /// `DeleteItem`. No record when the item does not exist.
    pub fn delete(&mut self, key: Item) -> Result<Option<StreamRecord>, TableError> {
        self.delete_when(key, None, false)
    }

    /// `DeleteItem` with a condition on the item as it is.
    pub fn delete_if(&mut self, key: Item, condition: &Condition) -> Result<Option<StreamRecord>, TableError> {
        self.delete_when(key, Some(condition), false)
    }

    /// A delete by DynamoDB's TTL process: a `REMOVE` whose `userIdentity` names the service.
    pub fn expire(&mut self, key: Item) -> Result<Option<StreamRecord>, TableError> {
        self.delete_when(key, None, true)
    }

    /// Runs the TTL process: deletes every item whose TTL attribute (epoch seconds) is at or
    /// before the virtual clock. Items without the attribute, or with a non-number, stay.
    pub fn expire_due(&mut self) -> Vec<StreamRecord> {
        let Some(attribute) = self.ttl_attribute.clone() else { return Vec::new() };
        let now = self.clock;
        let due: Vec<String> = self
            .items
            .iter()
            .filter(|(_, item)| match item.get(&attribute) {
                Some(AttributeValue::N(n)) => n.parse::<f64>().is_ok_and(|at| at <= now as f64),
                _ => false,
            })
            .map(|(key, _)| key.clone())
            .collect();
        due.into_iter().filter_map(|key| self.write(key, None, true)).collect()
    }

    fn delete_when(
        &mut self,
        key: Item,
        condition: Option<&Condition>,
        ttl: bool,
    ) -> Result<Option<StreamRecord>, TableError> {
        let key = key_text(&normalize(self.schema.key_of(&key)?));
        self.check(&key, condition)?;
        Ok(self.write(key, None, ttl))
    }

    fn check(&self, key: &str, condition: Option<&Condition>) -> Result<(), TableError> {
        match condition {
            Some(condition) if !condition.holds(self.items.get(key)) => Err(TableError::ConditionalCheckFailed),
            _ => Ok(()),
        }
    }

    /// Applies a write and appends the record DynamoDB would, if the item changed.
    fn write(&mut self, key: String, new: Option<Item>, ttl: bool) -> Option<StreamRecord> {
        let old = match &new {
            Some(item) => self.items.insert(key, item.clone()),
            None => self.items.remove(&key),
        };
        let event_name = match (&old, &new) {
            (None, Some(_)) => EventName::Insert,
            (Some(old), Some(new)) if old != new => EventName::Modify,
            (Some(_), None) => EventName::Remove,
            _ => return None,
        };
        let keys = self.schema.key_of(new.as_ref().or(old.as_ref())?).ok()?;
        let new_image = new.filter(|_| self.view_type.carries_new_image(event_name));
        let old_image = old.filter(|_| self.view_type.carries_old_image(event_name));
        let size_bytes =
            item_size(&keys) + new_image.as_ref().map_or(0, item_size) + old_image.as_ref().map_or(0, item_size);
        self.events += 1;
        let record = StreamRecord {
            event_id: event_id(self.events),
            event_name,
            keys,
            new_image,
            old_image,
            sequence_number: self.stream.next_sequence_number(),
            size_bytes,
            approximate_creation_time: self.clock,
            view_type: self.view_type,
            ttl_expiry: ttl,
            region: self.region.clone(),
            stream_arn: self.stream.arn().to_owned(),
        };
        self.stream.append(record.clone());
        Some(record)
    }
}

/// 32 hex digits that look random and never repeat within a table.
fn event_id(counter: u64) -> String {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    format!("{:016x}{:016x}", mix(counter), counter)
}
