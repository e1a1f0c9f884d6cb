//! Property: for any batch, in any payload order, with any mix of succeeding, failing,
//! panicking and undecodable records (and records whose sequence number is missing or not
//! numeric), the router does exactly what a model of the rules says: records run in stream
//! order, processing stops at the first failure, that record (and only it) is reported, and
//! a failure that cannot be reported fails the whole invocation. So no record is ever
//! acknowledged without being processed.

use ddbstream::{BoxError, Change, Context, Error, SequenceNumber};
use proptest::prelude::*;
use serde::Deserialize;
use serde_json::json;
use workspace_tests::CallLog;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Behaviour {
    Succeed,
    Fail,
    Panic,
    Undecodable,
}

#[derive(Clone, Debug)]
enum Seq {
    Numeric(String),
    NotNumeric(String),
    Missing,
}

#[derive(Clone, Debug)]
struct Spec {
    seq: Seq,
    behaviour: Behaviour,
}

fn spec() -> impl Strategy<Value = Spec> {
    let seq = prop_oneof![
        18 => "[1-9][0-9]{0,39}".prop_map(Seq::Numeric),
        1 => "[a-z-]{1,8}".prop_map(Seq::NotNumeric),
        1 => Just(Seq::Missing),
    ];
    let behaviour = prop_oneof![
        12 => Just(Behaviour::Succeed),
        1 => Just(Behaviour::Fail),
        1 => Just(Behaviour::Panic),
        1 => Just(Behaviour::Undecodable),
    ];
    (seq, behaviour).prop_map(|(seq, behaviour)| Spec { seq, behaviour })
}

#[derive(Deserialize)]
struct Item {
    id: u32,
    #[serde(default)]
    fail: bool,
    #[serde(default)]
    panic: bool,
}

fn record(id: usize, spec: &Spec) -> serde_json::Value {
    let mut image = json!({"id": {"N": id.to_string()}});
    match spec.behaviour {
        Behaviour::Succeed => {}
        Behaviour::Fail => image["fail"] = json!({"BOOL": true}),
        Behaviour::Panic => image["panic"] = json!({"BOOL": true}),
        Behaviour::Undecodable => image["id"] = json!({"S": "not a number"}),
    }
    let mut stream = json!({
        "ApproximateCreationDateTime": 1_795_000_000, "Keys": {"id": {"N": id.to_string()}},
        "NewImage": image, "SizeBytes": 20, "StreamViewType": "NEW_IMAGE",
    });
    match &spec.seq {
        Seq::Numeric(s) | Seq::NotNumeric(s) => stream["SequenceNumber"] = json!(s),
        Seq::Missing => {}
    }
    json!({
        "eventID": format!("{id:032x}"), "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1", "dynamodb": stream,
        "eventSourceARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/Items/stream/2026-11-01T00:00:00.000",
    })
}

/// What the rules say must happen: the ids whose handler runs, in order, and the response.
fn model(specs: &[Spec]) -> (Vec<String>, Result<Option<String>, ()>) {
    let key = |s: &Spec| match &s.seq {
        Seq::Numeric(n) => Some(SequenceNumber::new(n.clone())),
        _ => None,
    };
    let mut order: Vec<usize> = (0..specs.len()).collect();
    order.sort_by(|&a, &b| key(&specs[a]).cmp(&key(&specs[b])));
    let mut calls = Vec::new();
    for id in order {
        let spec = &specs[id];
        let decodes = spec.behaviour != Behaviour::Undecodable && !matches!(spec.seq, Seq::Missing);
        if decodes {
            calls.push(id.to_string());
        }
        if !decodes || spec.behaviour != Behaviour::Succeed {
            return match &spec.seq {
                Seq::Numeric(n) => (calls, Ok(Some(n.clone()))),
                _ => (calls, Err(())),
            };
        }
    }
    (calls, Ok(None))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn the_router_matches_the_model(specs in prop::collection::vec(spec(), 0..40)) {
        let payload = json!({"Records": specs.iter().enumerate().map(|(id, s)| record(id, s)).collect::<Vec<_>>()});
        let log = CallLog::default();
        let sink = log.clone();
        let router = ddbstream::Router::new().stream("Items", move |change: Change<Item>| {
            let sink = sink.clone();
            async move {
                let item = change.require_new()?;
                sink.push(item.id.to_string());
                if item.panic { panic!("injected") }
                if item.fail { return Err::<(), BoxError>("injected".into()) }
                Ok(())
            }
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build()?;
        let result = runtime.block_on(router.handle_event(&payload, &Context::default()));
        let (calls, response) = model(&specs);
        prop_assert_eq!(log.entries(), calls);
        match (result, response) {
            (Ok(got), Ok(want)) => {
                let got: Vec<_> = got.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
                prop_assert_eq!(got, want.into_iter().map(Some).collect::<Vec<_>>());
            }
            (Err(Error::Unreportable { .. }), Err(())) => {}
            (got, want) => prop_assert!(false, "got {:?}, model says {:?}", got, want),
        }
    }
}
