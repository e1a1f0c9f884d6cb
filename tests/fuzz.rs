//! Property-based fuzzing (stable toolchain) of the payload decoder and the DynamoDB JSON
//! decoding: arbitrary bytes, mutated real events and arbitrary images. Whatever the
//! input: no panic escapes, a response names only records of the payload, and every record
//! the response acknowledges (every record before the reported one, or all of them) was
//! processed by its handler. A payload that is not a stream event is an invocation error,
//! never an empty success.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ddbstream::{BoxError, Change, Context, Item, Router, SequenceNumber};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};
use workspace_tests::fixture;

/// A typed target that exercises strings, numbers, sets, lists and nested maps.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Loose {
    #[serde(default)]
    pk: Option<String>,
    #[serde(default)]
    amount: Option<i64>,
    #[serde(default)]
    price: Option<f64>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    flags: Option<HashMap<String, bool>>,
    #[serde(default)]
    rest: Option<Value>,
}

type Seen = Arc<Mutex<Vec<String>>>;

/// Orders decode into `Loose`, every other stream into `Item`; a record whose sequence
/// number ends in 7 fails.
fn router(seen: &Seen) -> Router {
    let (typed, any) = (seen.clone(), seen.clone());
    Router::new()
        .stream("Orders", move |change: Change<Loose>| {
            let seen = typed.clone();
            async move { record(&seen, change.sequence_number()) }
        })
        .fallback(move |change: Change<Item>| {
            let seen = any.clone();
            async move { record(&seen, change.sequence_number()) }
        })
}

fn record(seen: &Seen, seq: &SequenceNumber) -> Result<(), BoxError> {
    if seq.as_str().ends_with('7') {
        return Err("sequence numbers ending in 7 fail".into());
    }
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(seq.as_str().to_owned());
    Ok(())
}

/// Runs the router over `payload` and checks the no-loss properties.
fn check(payload: &[u8]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let seen = Seen::default();
    let router = router(&seen);
    let Ok(response) = runtime.block_on(router.handle(payload, &Context::default())) else {
        return Ok(()); // an invocation error: Lambda retries the whole batch, nothing acknowledged
    };
    // Bytes that are not UTF-8 inside strings the framework never reads (`eventVersion`,
    // unknown fields) are tolerated; read lossily, the payload must still be JSON.
    let event: Value = serde_json::from_slice(payload)
        .or_else(|_| serde_json::from_str(&String::from_utf8_lossy(payload)))
        .map_err(|e| TestCaseError::fail(format!("a success for a payload that is not JSON ({e})")))?;
    let records = event
        .get("Records")
        .and_then(Value::as_array)
        .ok_or_else(|| TestCaseError::fail("a success for a payload without Records"))?;
    let seqs: Vec<Option<&str>> =
        records.iter().map(|r| r.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str)).collect();
    let failed = response.batch_item_failures.first().map(|f| f.item_identifier.clone().unwrap_or_default());
    if let Some(failed) = &failed {
        prop_assert!(
            SequenceNumber::new(failed.as_str()).is_numeric(),
            "reported identifier {failed:?} is not a sequence number"
        );
        prop_assert!(seqs.contains(&Some(failed.as_str())), "reported {failed} is not in the payload");
        prop_assert_eq!(response.batch_item_failures.len(), 1);
    }
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for seq in seqs.into_iter().flatten().filter(|s| SequenceNumber::new(*s).is_numeric()) {
        let acknowledged = match &failed {
            None => true,
            Some(failed) => SequenceNumber::new(seq) < SequenceNumber::new(failed.as_str()),
        };
        if acknowledged {
            prop_assert!(seen.iter().any(|s| s == seq), "record {seq} acknowledged but never processed");
        }
    }
    Ok(())
}

const FIXTURES: [&str; 12] = [
    "customers-fallback.json",
    "fault-fail-first.json",
    "fault-malformed-record.json",
    "fault-missing-sequence-number.json",
    "fault-undecodable-image.json",
    "orders-insert.json",
    "orders-keys-only.json",
    "orders-modify.json",
    "orders-new-image.json",
    "orders-old-image.json",
    "orders-out-of-order.json",
    "orders-remove-ttl.json",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: usize, byte: u8 },
    Delete { at: usize, len: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Duplicate { at: usize, len: usize },
    Digit { nth: usize, digit: u8 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Flip { at, byte }),
        (any::<usize>(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        (
            any::<usize>(),
            proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b'{'), Just(b'}'), Just(b','), Just(b':'), b' '..=b'~'],
                1..12
            )
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1..400usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
        (any::<usize>(), b'0'..=b'9').prop_map(|(nth, digit)| Mutation::Digit { nth, digit }),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len().max(1);
    match mutation {
        Mutation::Flip { at, byte } => {
            if let Some(b) = bytes.get_mut(at % len) {
                *b = *byte;
            }
        }
        Mutation::Delete { at, len: n } => {
            let start = at % len;
            let end = (start + n).min(bytes.len());
            bytes.drain(start.min(end)..end);
        }
        Mutation::Insert { at, bytes: inserted } => {
            let at = (at % len).min(bytes.len());
            bytes.splice(at..at, inserted.iter().copied());
        }
        Mutation::Duplicate { at, len: n } => {
            let start = (at % len).min(bytes.len());
            let end = (start + n).min(bytes.len());
            let copy = bytes[start..end].to_vec();
            bytes.splice(end..end, copy);
        }
        Mutation::Digit { nth, digit } => {
            let digits: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                bytes[digits[nth % digits.len()]] = *digit;
            }
        }
    }
}

/// Arbitrary JSON that looks like DynamoDB JSON often enough to go deep.
fn dynamo_ish() -> impl Strategy<Value = Value> {
    let tag = prop_oneof![
        Just("S"),
        Just("N"),
        Just("B"),
        Just("SS"),
        Just("NS"),
        Just("BS"),
        Just("M"),
        Just("L"),
        Just("NULL"),
        Just("BOOL"),
        Just("X")
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[0-9.eE+-]{0,24}".prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            (tag.clone(), inner.clone()).prop_map(|(tag, value)| json!({ tag: value })),
            proptest::collection::hash_map(
                prop_oneof![
                    Just("pk".to_owned()),
                    Just("amount".to_owned()),
                    Just("price".to_owned()),
                    Just("tags".to_owned()),
                    Just("flags".to_owned()),
                    Just("rest".to_owned()),
                    "[a-z]{1,4}"
                ],
                inner,
                0..5
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes)?;
    }

    #[test]
    fn mutated_real_events(which in 0..FIXTURES.len(), mutations in proptest::collection::vec(mutation(), 1..5)) {
        let mut bytes = fixture(FIXTURES[which]);
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        check(&bytes)?;
    }

    #[test]
    fn arbitrary_images(images in proptest::collection::vec((dynamo_ish(), dynamo_ish()), 1..6), keys in dynamo_ish()) {
        let records: Vec<Value> = images
            .into_iter()
            .enumerate()
            .map(|(n, (new, old))| json!({
                "eventID": format!("{n:032x}"), "eventName": "MODIFY", "awsRegion": "eu-west-1",
                "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/stream/2026-11-01T00:00:00.000",
                "dynamodb": {"Keys": keys, "NewImage": new, "OldImage": old,
                    "SequenceNumber": format!("{}", 4_421_584_500_000_000_000_000u128 + n as u128 * 100),
                    "SizeBytes": 10, "StreamViewType": "NEW_AND_OLD_IMAGES"}
            }))
            .collect();
        check(&serde_json::to_vec(&json!({ "Records": records })).unwrap_or_default())?;
    }
}
