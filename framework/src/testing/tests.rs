//! The in-memory table and stream against DynamoDB's documented behaviour.

use std::collections::HashMap;

use serde_dynamo::{AttributeValue, Item};

use super::*;
use crate::payload::SequenceNumber;
use crate::payload::{EventName, StreamViewType};

fn item(pairs: &[(&str, AttributeValue)]) -> Item {
    Item::from(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<HashMap<_, _>>())
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(text.to_owned())
}

fn order(pk: &str, status: &str) -> Item {
    item(&[("pk", s(pk)), ("status", s(status))])
}

fn key(pk: &str) -> Item {
    item(&[("pk", s(pk))])
}

fn orders(view: StreamViewType) -> Table {
    Table::new("Orders", KeySchema::hash("pk"), view)
}

type Written = Result<Option<StreamRecord>, TableError>;

fn record(written: Written) -> StreamRecord {
    match written {
        Ok(Some(record)) => record,
        other => panic!("expected a record, got {other:?}"),
    }
}

#[test]
fn insert_modify_remove_with_both_images() {
    let mut table = orders(StreamViewType::NewAndOldImages);
    let insert = record(table.put(order("o1", "NEW")));
    assert_eq!((insert.event_name, insert.old_image.is_none()), (EventName::Insert, true));
    assert_eq!(insert.new_image, Some(order("o1", "NEW")));
    assert_eq!(insert.keys, key("o1"));

    let modify = record(table.put(order("o1", "PAID")));
    assert_eq!(modify.event_name, EventName::Modify);
    assert_eq!((modify.old_image, modify.new_image), (Some(order("o1", "NEW")), Some(order("o1", "PAID"))));

    let remove = record(table.delete(key("o1")));
    assert_eq!(
        (remove.event_name, remove.old_image, remove.new_image),
        (EventName::Remove, Some(order("o1", "PAID")), None)
    );
    assert!(!remove.ttl_expiry);
    assert_eq!(table.get(&key("o1")), None);
}

#[test]
fn writes_that_change_nothing_produce_no_record() {
    let mut table = orders(StreamViewType::NewAndOldImages);
    record(table.put(item(&[
        ("pk", s("o1")),
        ("total", n("10.50")),
        ("tags", AttributeValue::Ss(vec!["b".into(), "a".into()])),
    ])));
    // Same item: numbers compare as numbers, sets as sets.
    let same =
        item(&[("pk", s("o1")), ("total", n("10.5")), ("tags", AttributeValue::Ss(vec!["a".into(), "b".into()]))]);
    assert_eq!(table.put(same), Ok(None));
    assert_eq!(table.update(key("o1"), &Update::new().set("total", n("010.500"))), Ok(None));
    assert_eq!(table.update(key("o1"), &Update::new().remove("absent")), Ok(None));
    assert_eq!(table.delete(key("missing")), Ok(None));
    assert_eq!(table.expire(key("missing")), Ok(None));
    assert_eq!(table.stream().records().len(), 1);
}

#[test]
fn update_creates_sets_and_removes() {
    let mut table = orders(StreamViewType::NewAndOldImages);
    let created = record(table.update(key("o1"), &Update::new().set("status", s("NEW"))));
    assert_eq!((created.event_name, created.new_image), (EventName::Insert, Some(order("o1", "NEW"))));
    let changed = record(table.update(key("o1"), &Update::new().set("total", n("3")).remove("status")));
    assert_eq!(changed.event_name, EventName::Modify);
    assert_eq!(changed.new_image, Some(item(&[("pk", s("o1")), ("total", n("3"))])));
    assert_eq!(table.update(key("o1"), &Update::new().set("pk", s("o2"))), Err(TableError::KeyUpdate("pk".into())));
}

#[test]
fn conditional_writes_fail_without_a_record() {
    let mut table = orders(StreamViewType::NewAndOldImages);
    record(table.put_if(order("o1", "NEW"), &Condition::NotExists));
    assert_eq!(table.put_if(order("o1", "PAID"), &Condition::NotExists), Err(TableError::ConditionalCheckFailed));
    let shipped = Update::new().set("status", s("SHIPPED"));
    assert_eq!(
        table.update_if(key("o1"), &shipped, &Condition::Equals("status".into(), s("PAID"))),
        Err(TableError::ConditionalCheckFailed)
    );
    record(table.update_if(key("o1"), &shipped, &Condition::Equals("status".into(), s("NEW"))));
    assert_eq!(table.delete_if(key("o2"), &Condition::Exists), Err(TableError::ConditionalCheckFailed));
    record(table.delete_if(key("o1"), &Condition::AttributeExists("status".into())));
    assert_eq!(table.stream().records().len(), 3);
}

#[test]
fn ttl_deletes_carry_the_service_identity() {
    let mut table = orders(StreamViewType::NewAndOldImages).with_ttl("expires_at");
    let at = (CLOCK_START + 60).to_string();
    record(table.put(item(&[("pk", s("due")), ("expires_at", n(&at))])));
    record(table.put(item(&[("pk", s("later")), ("expires_at", n(&(CLOCK_START + 600).to_string()))])));
    record(table.put(item(&[("pk", s("never"))])));
    assert!(table.expire_due().is_empty());
    table.advance(60);
    let expired = table.expire_due();
    assert_eq!(expired.iter().map(|r| (r.keys.clone(), r.ttl_expiry)).collect::<Vec<_>>(), [(key("due"), true)]);
    let json = expired[0].to_lambda_json();
    assert_eq!(json["userIdentity"], serde_json::json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"}));
    assert_eq!(json["eventName"], "REMOVE");
    assert_eq!(table.items().len(), 2);
}

#[test]
fn images_per_view_type() {
    use EventName::{Insert, Modify, Remove};
    let cases = [
        (StreamViewType::KeysOnly, [(Insert, false, false), (Modify, false, false), (Remove, false, false)]),
        (StreamViewType::NewImage, [(Insert, false, true), (Modify, false, true), (Remove, false, false)]),
        (StreamViewType::OldImage, [(Insert, false, false), (Modify, true, false), (Remove, true, false)]),
        (StreamViewType::NewAndOldImages, [(Insert, false, true), (Modify, true, true), (Remove, true, false)]),
    ];
    for (view, expected) in cases {
        let mut table = orders(view);
        let written = [
            record(table.put(order("o1", "NEW"))),
            record(table.put(order("o1", "PAID"))),
            record(table.delete(key("o1"))),
        ];
        let shapes: Vec<_> =
            written.iter().map(|r| (r.event_name, r.old_image.is_some(), r.new_image.is_some())).collect();
        assert_eq!(shapes, expected, "{view}");
        assert!(written.iter().all(|r| r.keys == key("o1") && r.view_type == view));
    }
}

#[test]
fn identity_ordering_time_and_arn() {
    let mut table = Table::new("Orders", KeySchema::hash_range("pk", "sk"), StreamViewType::KeysOnly);
    let mut last: Option<SequenceNumber> = None;
    for i in 0..50 {
        table.advance(1);
        let written = record(table.put(item(&[("pk", s(&format!("c{}", i % 7))), ("sk", n(&i.to_string()))])));
        assert_eq!(written.event_id.len(), 32);
        assert!(written.event_id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert!(written.sequence_number.is_numeric() && written.sequence_number.as_str().len() >= 21);
        assert!(last.as_ref().is_none_or(|l| *l < written.sequence_number));
        assert_eq!(written.approximate_creation_time, table.now());
        assert_eq!(written.keys.len(), 2);
        last = Some(written.sequence_number);
    }
    let arn = table.stream().arn();
    assert!(arn.starts_with("arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/"), "{arn}");
    assert_eq!(crate::payload::StreamArn::parse(arn).map(|a| a.table), Some("Orders"));
    let ids: std::collections::HashSet<_> = table.stream().records().into_iter().map(|r| r.event_id).collect();
    assert_eq!(ids.len(), 50);
}

#[test]
fn item_size_follows_dynamodb_rules() {
    assert_eq!(item_size(&item(&[("pk", s("abc"))])), 2 + 3);
    // Numbers: 1 byte per two significant digits, plus one; zeros at either end trimmed.
    assert_eq!(item_size(&item(&[("n", n("123"))])), 1 + 2 + 1);
    assert_eq!(item_size(&item(&[("n", n("1000"))])), 1 + 1 + 1);
    assert_eq!(item_size(&item(&[("n", n("0.0015"))])), 1 + 1 + 1);
    assert_eq!(item_size(&item(&[("b", AttributeValue::Bool(true)), ("z", AttributeValue::Null(true))])), 2 + 2);
    assert_eq!(item_size(&item(&[("l", AttributeValue::L(vec![]))])), 1 + 3);
    assert_eq!(item_size(&item(&[("l", AttributeValue::L(vec![s("ab"), n("7")]))])), 1 + 3 + (1 + 2) + (1 + 2));
    let map = AttributeValue::M(HashMap::from([("k".to_owned(), s("v"))]));
    assert_eq!(item_size(&item(&[("m", map)])), 1 + 3 + 1 + 1 + 1);
    assert_eq!(item_size(&item(&[("ss", AttributeValue::Ss(vec!["ab".into(), "c".into()]))])), 2 + 3);
    assert_eq!(item_size(&item(&[("é", s("ü"))])), 2 + 2, "UTF-8 bytes, not characters");
}

#[test]
fn size_bytes_counts_keys_and_carried_images() {
    let mut table = orders(StreamViewType::NewAndOldImages);
    let insert = record(table.put(order("o1", "NEW")));
    assert_eq!(insert.size_bytes, item_size(&key("o1")) + item_size(&order("o1", "NEW")));
    let mut keys_only = orders(StreamViewType::KeysOnly);
    assert_eq!(record(keys_only.put(order("o1", "NEW"))).size_bytes, item_size(&key("o1")));
}

#[test]
fn shards_split_with_lineage_and_read_like_the_streams_api() {
    let mut table = orders(StreamViewType::KeysOnly);
    for i in 0..10 {
        record(table.put(order(&format!("o{i}"), "NEW")));
    }
    let parent = table.stream().describe()[0].clone();
    assert_eq!((parent.parent_shard_id.as_ref(), parent.ending_sequence_number.as_ref()), (None, None));
    let children = table.stream_mut().split(&parent.shard_id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(table.stream_mut().split(&parent.shard_id), Err(TableError::ShardClosed(parent.shard_id.clone())));
    for i in 10..40 {
        record(table.put(order(&format!("o{i}"), "NEW")));
    }
    let shards = table.stream().describe();
    assert_eq!(shards.len(), 3);
    let closed_at = shards[0].ending_sequence_number.clone().unwrap_or_else(|| panic!("parent not closed"));
    for child in &shards[1..] {
        assert_eq!(child.parent_shard_id.as_deref(), Some(parent.shard_id.as_str()));
        assert!(child.starting_sequence_number > closed_at);
        assert!(children.contains(&child.shard_id));
    }
    let parent_records = table.stream().shard_records(&parent.shard_id).map(<[_]>::len);
    assert_eq!(parent_records, Ok(10));
    let child_counts: Vec<usize> =
        children.iter().map(|c| table.stream().shard_records(c).map_or(0, <[_]>::len)).collect();
    assert_eq!(child_counts.iter().sum::<usize>(), 30);
    assert!(child_counts.iter().all(|&c| c > 0), "keys spread over both children: {child_counts:?}");

    // Reading: pages, positions, the end of a closed shard.
    let stream = table.stream();
    let first = stream.read(&parent.shard_id, &Position::TrimHorizon, 4).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first.records.len(), 4);
    let Some(next) = first.next.clone() else { panic!("more to read") };
    let rest = stream.read(&parent.shard_id, &next, 100).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((rest.records.len(), rest.next), (6, None), "a closed shard read to its end has no next position");
    let at = stream.read(&parent.shard_id, &Position::At(first.records[2].sequence_number.clone()), 1);
    assert_eq!(at.map(|p| p.records[0].sequence_number.clone()), Ok(first.records[2].sequence_number.clone()));
    let after = stream.read(&parent.shard_id, &Position::After(first.records[2].sequence_number.clone()), 1);
    assert_eq!(after.map(|p| p.records[0].sequence_number.clone()), Ok(first.records[3].sequence_number.clone()));
    let open = &children[0];
    let latest = stream.read(open, &Position::Latest, 10).unwrap_or_else(|e| panic!("{e}"));
    assert!(latest.records.is_empty());
    assert!(matches!(latest.next, Some(Position::After(_))), "LATEST becomes a concrete position: {:?}", latest.next);
    assert_eq!(
        stream.read("shardId-nope", &Position::TrimHorizon, 1),
        Err(TableError::UnknownShard("shardId-nope".into()))
    );

    let page = stream.describe_page(None, 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.shards.len(), 2);
    let last = stream.describe_page(page.last_evaluated_shard_id.as_deref(), 2).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((last.shards.len(), last.last_evaluated_shard_id), (1, None));
}

#[test]
fn lambda_events_respect_batch_size_and_six_megabytes() {
    let mut table = orders(StreamViewType::NewAndOldImages);
    let big = "x".repeat(350_000);
    for i in 0..40 {
        record(table.put(item(&[("pk", s(&format!("o{i:02}"))), ("blob", s(&big))])));
    }
    let records = table.stream().records();
    let events = lambda_batches(&records, 100);
    let sizes: Vec<usize> = events.iter().map(Vec::len).collect();
    assert!(sizes.iter().all(|&size| size <= MAX_PAYLOAD_BYTES), "{sizes:?}");
    let first_len = batch_len(&records, 100);
    assert!(first_len < 40 && first_len > 1, "{first_len}");
    let one_more = lambda_event(&records[..=first_len]).len();
    assert!(one_more > MAX_PAYLOAD_BYTES, "the batch stops only when the next record would not fit");

    let small: Vec<StreamRecord> = records.iter().take(10).cloned().collect();
    assert_eq!(lambda_batches(&small[..1], 1).len(), 1);
    assert_eq!(batch_len(&small, 3), 3);
}

#[test]
fn two_tables_never_share_a_sequence_number() {
    let mut numbers = std::collections::HashSet::new();
    for name in ["Likes", "PostStats", "Orders", "Customers"] {
        let mut table = Table::new(name, KeySchema::hash("pk"), StreamViewType::KeysOnly);
        for i in 0..200 {
            let item =
                Item::from(std::collections::HashMap::from([("pk".to_owned(), AttributeValue::S(i.to_string()))]));
            let _ = table.put(item);
        }
        for record in table.stream().records() {
            assert_eq!(record.sequence_number.as_str().len(), 22);
            assert!(numbers.insert(record.sequence_number.clone()), "{name}: {} seen before", record.sequence_number);
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Like {
    pk: String,
    sk: String,
    weight: u8,
}

#[test]
fn serializable_values_are_items_and_records_decode_without_a_router() {
    let mut table = Table::new("Likes", KeySchema::hash_range("pk", "sk"), StreamViewType::NewImage);
    let like = Like { pk: "post#1".into(), sk: "user#a".into(), weight: 3 };
    assert!(table.put_value(&like).is_ok_and(|record| record.is_some()));
    assert!(matches!(table.put_value(&"just a string"), Err(crate::testing::TableError::NotAnItem(_))));
    let records = table.stream().records();
    let typed: Vec<crate::change::Change<Like, serde_dynamo::Item>> =
        crate::testing::changes(&records).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(typed[0].new_image(), Some(&like));
    let wrong = crate::testing::changes::<Vec<u8>, serde_dynamo::Item>(&records).err().map(|e| e.to_string());
    assert!(wrong.is_some_and(|e| e.starts_with("NewImage")), "a record that does not fit names its part");
}

#[test]
fn a_fixture_is_written_in_one_call() {
    let mut table = Table::new("Likes", KeySchema::hash_range("pk", "sk"), StreamViewType::NewImage);
    let _ = table.put_value(&Like { pk: "post#1".into(), sk: "user#a".into(), weight: 1 });
    let records = table.stream().records();
    let path = std::env::temp_dir().join(format!("ddbstream-fixture-{}.json", std::process::id()));
    crate::testing::write_fixture(&path, &records).unwrap_or_else(|e| panic!("{e}"));
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or_else(|e| panic!("{e}"));
    let event: serde_json::Value =
        serde_json::from_slice(&crate::testing::lambda_event(&records)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(written, event);
    let _ = std::fs::remove_file(&path);
    let refused = crate::testing::write_fixture("/nonexistent-dir/fixture.json", &records).err().map(|e| e.to_string());
    assert!(refused.is_some_and(|e| e.contains("/nonexistent-dir/fixture.json")));
}
