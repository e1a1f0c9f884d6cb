//! The test kit's in-memory stream against moto's DynamoDB Streams, over real HTTP, for the
//! same writes: same event names, keys and images per view type. moto's known gaps are
//! asserted as such (so a moto that fixes them makes this test say so):
//! - a write that changes nothing emits a MODIFY in moto; DynamoDB emits nothing;
//! - an UpdateItem that creates an item emits two INSERTs in moto, the first carrying only
//!   the key; DynamoDB emits one.

use std::collections::HashMap;

use aws_sdk_dynamodbstreams::types::ShardIteratorType;
use ddbstream::testing::{KeySchema, StreamRecord, Table, Update};
use ddbstream::{EventName, StreamViewType};
use serde_dynamo::{AttributeValue, Item};
use workspace_tests::{create_streamed_table, local_dynamodb};

/// One event as both sides can state it: name, keys, images (sets sorted).
#[derive(Debug, PartialEq)]
struct Event {
    name: String,
    keys: Item,
    new: Option<Item>,
    old: Option<Item>,
}

fn sorted(item: Item) -> Item {
    fn value(v: AttributeValue) -> AttributeValue {
        match v {
            AttributeValue::Ss(mut ss) => {
                ss.sort();
                AttributeValue::Ss(ss)
            }
            AttributeValue::M(m) => AttributeValue::M(m.into_iter().map(|(k, v)| (k, value(v))).collect()),
            other => other,
        }
    }
    let map: HashMap<String, AttributeValue> = item.into();
    Item::from(map.into_iter().map(|(k, v)| (k, value(v))).collect::<HashMap<_, _>>())
}

fn ours(record: &StreamRecord) -> Event {
    Event {
        name: record.event_name.as_str().to_owned(),
        keys: sorted(record.keys.clone()),
        new: record.new_image.clone().map(sorted),
        old: record.old_image.clone().map(sorted),
    }
}

fn attrs(pairs: &[(&str, AttributeValue)]) -> Item {
    Item::from(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect::<HashMap<_, _>>())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: &str) -> AttributeValue {
    AttributeValue::N(v.to_owned())
}

enum Op {
    Put(Item),
    Update(&'static str, &'static str, AttributeValue),
    Delete(&'static str),
}

fn workload() -> Vec<Op> {
    let tags = AttributeValue::Ss(vec!["gift".into(), "express".into()]);
    let nested = AttributeValue::M(HashMap::from([("city".to_owned(), s("Lyon")), ("zip".to_owned(), n("69001"))]));
    vec![
        Op::Put(attrs(&[("pk", s("o1")), ("status", s("NEW")), ("amount", n("10")), ("tags", tags.clone())])),
        Op::Put(attrs(&[("pk", s("o2")), ("status", s("NEW")), ("address", nested)])),
        Op::Put(attrs(&[("pk", s("o1")), ("status", s("PAID")), ("amount", n("10")), ("tags", tags)])),
        Op::Update("o2", "amount", n("20")),
        Op::Update("o2", "amount", n("20")), // changes nothing
        Op::Delete("o1"),
        Op::Delete("o9"),                     // missing
        Op::Update("o3", "status", s("NEW")), // creates the item
        Op::Put(attrs(&[("pk", s("o3")), ("status", s("SHIPPED"))])),
    ]
}

fn key(pk: &str) -> Item {
    attrs(&[("pk", s(pk))])
}

fn sdk_item(item: &Item) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    item.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect()
}

async fn moto_events(view: StreamViewType) -> (Vec<Event>, Vec<Event>) {
    let config = aws_config::load_from_env().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let table_name = create_streamed_table(&dynamodb, "Orders", "pk", view.as_str()).await;

    let mut table = Table::new(&table_name, KeySchema::hash("pk"), view);
    let mut expected = Vec::new();
    for op in workload() {
        let (written, gap) = match op {
            Op::Put(item) => {
                dynamodb
                    .put_item()
                    .table_name(&table_name)
                    .set_item(Some(sdk_item(&item)))
                    .send()
                    .await
                    .map(|_| ())
                    .unwrap_or_else(|e| panic!("{e:?}"));
                let before = table.get(&item).cloned();
                let written = table.put(item.clone());
                // moto: a put that changes nothing still emits MODIFY.
                let gap = before.filter(|b| sorted(b.clone()) == sorted(item.clone())).map(|b| (EventName::Modify, b));
                (written, gap)
            }
            Op::Update(pk, name, value) => {
                dynamodb
                    .update_item()
                    .table_name(&table_name)
                    .set_key(Some(sdk_item(&key(pk))))
                    .update_expression("SET #a = :v")
                    .expression_attribute_names("#a", name)
                    .expression_attribute_values(":v", value.clone().into())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{e:?}"));
                let before = table.get(&key(pk)).cloned();
                let written = table.update(key(pk), &Update::new().set(name, value));
                let gap = match (&before, &written) {
                    (Some(b), Ok(None)) => Some((EventName::Modify, b.clone())),
                    // moto: first an INSERT of the bare key, then the INSERT of the item.
                    (None, Ok(Some(_))) => Some((EventName::Insert, key(pk))),
                    _ => None,
                };
                (written, gap)
            }
            Op::Delete(pk) => {
                dynamodb
                    .delete_item()
                    .table_name(&table_name)
                    .set_key(Some(sdk_item(&key(pk))))
                    .send()
                    .await
                    .map(|_| ())
                    .unwrap_or_else(|e| panic!("{e:?}"));
                (table.delete(key(pk)), None)
            }
        };
        let written = written.unwrap_or_else(|e| panic!("{e}"));
        if let Some((name, image)) = gap {
            // The extra event moto emits, with the images this view type carries.
            let pk = image.get("pk").cloned().unwrap_or_else(|| s("?"));
            expected.push(Event {
                name: name.as_str().to_owned(),
                keys: attrs(&[("pk", pk)]),
                new: view.carries_new_image(name).then(|| sorted(image.clone())),
                old: (view.carries_old_image(name) && name == EventName::Modify).then(|| sorted(image.clone())),
            });
        }
        expected.extend(written.as_ref().map(ours));
    }

    let listed = streams.list_streams().table_name(&table_name).send().await.unwrap_or_else(|e| panic!("{e:?}"));
    let arn = listed.streams().first().and_then(|s| s.stream_arn()).unwrap_or_else(|| panic!("no stream")).to_owned();
    let described = streams.describe_stream().stream_arn(&arn).send().await.unwrap_or_else(|e| panic!("{e:?}"));
    let shards = described.stream_description().map(|d| d.shards().to_vec()).unwrap_or_default();
    let mut actual = Vec::new();
    for shard in shards {
        let shard_id = shard.shard_id().unwrap_or_default();
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard_id)
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let mut next = iterator.shard_iterator().map(str::to_owned);
        while let Some(iterator) = next {
            let page = streams.get_records().shard_iterator(iterator).send().await.unwrap_or_else(|e| panic!("{e:?}"));
            if page.records().is_empty() {
                break;
            }
            for record in page.records() {
                let stream = record.dynamodb().unwrap_or_else(|| panic!("record without dynamodb"));
                let image = |m: Option<&HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>>| {
                    m.filter(|m| !m.is_empty()).map(|m| sorted(Item::from(m.clone())))
                };
                actual.push(Event {
                    name: record.event_name().map(|e| e.as_str().to_owned()).unwrap_or_default(),
                    keys: sorted(Item::from(stream.keys().cloned().unwrap_or_default())),
                    new: image(stream.new_image()),
                    old: image(stream.old_image()),
                });
            }
            next = page.next_shard_iterator().map(str::to_owned);
        }
    }
    (expected, actual)
}

#[tokio::test]
async fn the_in_memory_stream_matches_moto_for_the_same_writes() {
    if !local_dynamodb() {
        return;
    }
    for view in
        [StreamViewType::NewAndOldImages, StreamViewType::NewImage, StreamViewType::OldImage, StreamViewType::KeysOnly]
    {
        let (expected, actual) = moto_events(view).await;
        assert_eq!(actual, expected, "{view}");
    }
}
