//! `ExactlyOnce::fold`: a batch's counters and last-state puts in few transactions, each
//! change applied exactly once through redeliveries, partial failures, conflicts, lost
//! answers and a crash between two transactions; the twin and DynamoDB (moto) agree.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use ddbstream::dynamodb::{ExactlyOnce, Fold, Folded, TwinFaults};
use ddbstream::testing::{lambda_event, KeySchema, StreamRecord, Table};
use ddbstream::{Change, Context, Router, StreamViewType};
use handlers::likes::{on_likes, Likes};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};
use workspace_tests::{capture_logs, collect_changes, create_table, local_client, local_dynamodb};

/// A thing: its key, the counter it feeds (`t`) and its value (`n`).
#[derive(Clone, Debug, Deserialize)]
struct Thing {
    pk: String,
    t: u32,
    n: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct ThingKey {
    pk: String,
}

/// What one thing change does: `Totals[target#t]` counts changes and adds `n`; `Latest`
/// holds each thing's last state (deleted with it).
#[derive(Clone, Debug)]
struct Tables {
    totals: String,
    latest: String,
}

fn fold_thing(tables: &Tables, change: &Change<Thing, ThingKey>) -> Fold {
    let image = change.new_image().or(change.old_image());
    let (t, n) = image.map_or((0, 0), |thing| (thing.t, thing.n));
    let target = [("pk", AttributeValue::S(format!("target#{t}")))];
    let fold = Fold::new().add(&tables.totals, target.clone(), "changes", 1).add(&tables.totals, target, "sum", n);
    match change.new_image() {
        Some(thing) => fold.put(
            &tables.latest,
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(thing.pk.clone())),
                ("n".to_owned(), AttributeValue::N(thing.n.to_string())),
            ]),
        ),
        None => fold.delete(&tables.latest, [("pk", AttributeValue::S(change.keys.pk.clone()))]),
    }
}

/// One step of a scenario: a thing written (`Some((t, n))`) or deleted (`None`).
type Op = (u8, Option<(u32, i64)>);

fn records(ops: &[Op]) -> Vec<StreamRecord> {
    let mut table = Table::new("Things", KeySchema::hash("pk"), StreamViewType::NewAndOldImages);
    for (item, op) in ops {
        let pk = format!("thing#{item}");
        let result = match op {
            Some((t, n)) => table.put_value(&serde_json::json!({ "pk": pk, "t": t, "n": n })),
            None => table.delete(serde_dynamo::to_item(serde_json::json!({ "pk": pk })).unwrap_or_default()),
        };
        result.unwrap_or_else(|e| panic!("{e}"));
    }
    table.stream().records()
}

/// The state the changes must leave, each applied once: per target, how many changes and
/// the sum of their `n`; per thing, its last `n` (absent once deleted).
fn model(changes: &[Change<Thing, ThingKey>]) -> (BTreeMap<String, (i64, i64)>, BTreeMap<String, i64>) {
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut latest = BTreeMap::new();
    for change in changes {
        let image = change.new_image().or(change.old_image());
        let (t, n) = image.map_or((0, 0), |thing| (thing.t, thing.n));
        let total = totals.entry(format!("target#{t}")).or_default();
        total.0 += 1;
        total.1 += n;
        match change.new_image() {
            Some(thing) => latest.insert(thing.pk.clone(), thing.n),
            None => latest.remove(&change.keys.pk),
        };
    }
    (totals, latest)
}

fn number(item: Option<&HashMap<String, AttributeValue>>, name: &str) -> i64 {
    item.and_then(|item| item.get(name)).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// The state as the twin holds it, for the targets and things of `changes`.
fn twin_state(
    once: &ExactlyOnce,
    tables: &Tables,
    changes: &[Change<Thing, ThingKey>],
) -> (BTreeMap<String, (i64, i64)>, BTreeMap<String, i64>) {
    let mut totals = BTreeMap::new();
    let mut latest = BTreeMap::new();
    for change in changes {
        let t = change.new_image().or(change.old_image()).map_or(0, |thing| thing.t);
        let target = format!("target#{t}");
        let key = HashMap::from([("pk".to_owned(), AttributeValue::S(target.clone()))]);
        let item = once.twin_item(&tables.totals, &key);
        totals.insert(target, (number(item.as_ref(), "changes"), number(item.as_ref(), "sum")));
        let key = HashMap::from([("pk".to_owned(), AttributeValue::S(change.keys.pk.clone()))]);
        if let Some(item) = once.twin_item(&tables.latest, &key) {
            latest.insert(change.keys.pk.clone(), number(Some(&item), "n"));
        }
    }
    (totals, latest)
}

async fn fold_all(
    once: &ExactlyOnce,
    tables: &Tables,
    changes: &[Change<Thing, ThingKey>],
) -> Result<Folded, (usize, String)> {
    once.fold(changes, |change| Ok(fold_thing(tables, change)))
        .await
        .map_err(|failure| (failure.index(), failure.to_string()))
}

/// One hot thing changed 400 times, then 370 changes over 120 things feeding 3 targets.
fn hot_and_diverse() -> Vec<Op> {
    let mut ops: Vec<Op> = (0..400).map(|i| (0, Some((0, i)))).collect();
    ops.extend((0..370).map(|i| ((i % 120 + 1) as u8, Some((i as u32 % 3, i as i64)))));
    ops.extend([(5, None), (6, None)]);
    ops
}

/// The scenario suite: each fold's answer, for the twin and DynamoDB alike.
async fn scenario(
    once: &ExactlyOnce,
    tables: &Tables,
    changes: &[Change<Thing, ThingKey>],
) -> Vec<Result<Folded, (usize, String)>> {
    let hot = &changes[..400];
    let diverse = &changes[400..];
    vec![
        // One hot item: one guard, one counter, one last state.
        fold_all(once, tables, hot).await,
        // Redelivered: nothing written.
        fold_all(once, tables, hot).await,
        // A crash after the first 150 diverse changes were committed...
        fold_all(once, tables, &diverse[..150]).await,
        // ...then the whole batch again: the rest written once.
        fold_all(once, tables, diverse).await,
        // And a redelivery from the middle.
        fold_all(once, tables, &diverse[200..]).await,
    ]
}

fn tables(totals: &str, latest: &str) -> Tables {
    Tables { totals: totals.into(), latest: latest.into() }
}

#[tokio::test]
async fn the_twin_folds_a_hot_item_into_one_transaction_and_applies_each_change_once() {
    let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&hot_and_diverse()))).await;
    let tables = tables("Totals", "Latest");
    let once = ExactlyOnce::in_memory().key_schema("Latest", ["pk"]);
    let answers = scenario(&once, &tables, &changes).await;
    let hot = Folded { written: 400, already_applied: 0, transactions: 1 };
    assert_eq!(answers[0], Ok(hot));
    assert_eq!(answers[1], Ok(Folded { written: 0, already_applied: 400, transactions: 0 }));
    assert_eq!(answers[3].as_ref().map(|f| (f.written, f.already_applied)), Ok((222, 150)));
    assert_eq!(answers[4].as_ref().map(|f| (f.written, f.already_applied)), Ok((0, 172)));
    assert_eq!(twin_state(&once, &tables, &changes), model(&changes));
    assert_eq!(once.twin_refusals(), 0);
    // 150 changes of 120 things, each thing with a guard and a last state, and 3 counters:
    // 243 actions, in 3 transactions of at most 100.
    assert_eq!(answers[2].as_ref().map(|f| f.transactions), Ok(3), "{answers:?}");
}

#[tokio::test]
async fn dynamodb_and_the_twin_agree_on_folds() {
    if !local_dynamodb() {
        return;
    }
    let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&hot_and_diverse()))).await;
    let client = local_client().await;
    let guards = create_table(&client, "Guards", "pk", None).await;
    let names =
        tables(&create_table(&client, "Totals", "pk", None).await, &create_table(&client, "Latest", "pk", None).await);
    let once = ExactlyOnce::new(client.clone(), &guards).consumer("folds").key_schema(&names.latest, ["pk"]);
    let moto = scenario(&once, &names, &changes).await;
    let twin = ExactlyOnce::in_memory().key_schema(&names.latest, ["pk"]);
    assert_eq!(scenario(&twin, &names, &changes).await, moto);
    // DynamoDB's tables hold what the model says.
    let (totals, latest) = model(&changes);
    for (target, (count, sum)) in &totals {
        let item =
            client.get_item().table_name(&names.totals).key("pk", AttributeValue::S(target.clone())).send().await;
        let item = item.unwrap_or_else(|e| panic!("{e}")).item;
        assert_eq!((number(item.as_ref(), "changes"), number(item.as_ref(), "sum")), (*count, *sum), "{target}");
    }
    let scanned = client.scan().table_name(&names.latest).send().await.unwrap_or_else(|e| panic!("{e}"));
    let held: BTreeMap<String, i64> = scanned
        .items()
        .iter()
        .map(|item| (item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default(), number(Some(item), "n")))
        .collect();
    assert_eq!(held, latest);
}

#[tokio::test]
async fn a_crash_between_two_transactions_loses_and_repeats_nothing() {
    let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&hot_and_diverse()))).await;
    let diverse = &changes[400..];
    let tables = tables("Totals", "Latest");
    let once = ExactlyOnce::in_memory().key_schema("Latest", ["pk"]);
    // The process dies after the first transaction of the batch.
    once.twin_faults(TwinFaults { fail_after: 1, ..TwinFaults::default() });
    let (index, why) = fold_all(&once, &tables, diverse).await.err().unwrap_or_else(|| panic!("the fold did not fail"));
    assert!(why.contains("injected failure"), "{why}");
    // The first transaction held every change before the reported one (and later changes
    // of the same things): Lambda redelivers from the reported change, and those later
    // changes are found applied.
    assert!(index > 0 && index < diverse.len(), "{index}");
    once.twin_faults(TwinFaults::default());
    let rest = fold_all(&once, &tables, &diverse[index..]).await.unwrap_or_default();
    assert_eq!(rest.written + rest.already_applied, diverse.len() - index);
    assert!(rest.already_applied > 0, "{rest:?}");
    let again = fold_all(&once, &tables, diverse).await;
    assert_eq!(again.map(|f| (f.written, f.already_applied)), Ok((0, diverse.len())));
    assert_eq!(twin_state(&once, &tables, diverse), model(diverse));
}

#[tokio::test]
async fn a_failing_change_is_reported_and_those_before_it_are_applied() {
    let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&hot_and_diverse()))).await;
    let tables = tables("Totals", "Latest");
    let once = ExactlyOnce::in_memory().key_schema("Latest", ["pk"]);
    let failure = once
        .fold(&changes, |change| {
            if change.new_image().is_some_and(|thing| thing.pk == "thing#7") {
                return Err("thing#7 is refused".into());
            }
            Ok(fold_thing(&tables, change))
        })
        .await
        .err()
        .unwrap_or_else(|| panic!("the fold did not fail"));
    let first_7 = changes.iter().position(|c| c.keys.pk == "thing#7").unwrap_or_default();
    assert_eq!(failure.index(), first_7);
    assert_eq!(twin_state(&once, &tables, &changes[..first_7]), model(&changes[..first_7]));
}

#[tokio::test]
async fn a_folded_put_needs_its_tables_key() {
    let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&hot_and_diverse()))).await;
    let once = ExactlyOnce::in_memory();
    let failure = fold_all(&once, &tables("Totals", "Latest"), &changes).await.err().unwrap_or_default();
    assert_eq!(failure.0, 0);
    assert!(failure.1.contains(".key_schema(\"Latest\""), "{}", failure.1);
}

/// Likes of a viral post through the router: the `on_likes` batch route, 1,000 likes and
/// 100 unlikes of one post, redelivered.
#[tokio::test]
async fn a_viral_post_counts_each_like_once_in_few_transactions() {
    let mut table = Table::new("Likes", KeySchema::hash_range("pk", "sk"), StreamViewType::KeysOnly);
    let like = |user: usize| {
        serde_dynamo::to_item(serde_json::json!({ "pk": "post#viral", "sk": format!("user#{user}") }))
            .unwrap_or_default()
    };
    for user in 0..1_000 {
        table.put(like(user)).unwrap_or_else(|e| panic!("{e}"));
    }
    for user in 0..100 {
        table.delete(like(user)).unwrap_or_else(|e| panic!("{e}"));
    }
    let payload = lambda_event(&table.stream().records());
    let likes = Likes { once: ExactlyOnce::in_memory(), stats_table: "PostStats".into() };
    let router = Router::new().with_state(likes.clone()).stream("Likes", on_likes);
    for delivery in 0..2 {
        let (response, logs) = capture_logs(router.handle(&payload, &Context::default())).await;
        let response = response.unwrap_or_else(|e| panic!("{e}"));
        let warnings: Vec<&str> = logs.lines().filter(|line| !line.contains("DEBUG")).collect();
        assert!(response.batch_item_failures.is_empty(), "{warnings:#?}");
        let key = HashMap::from([("pk".to_owned(), AttributeValue::S("post#viral".into()))]);
        assert_eq!(number(likes.once.twin_item("PostStats", &key).as_ref(), "like_count"), 900);
        if delivery == 0 {
            // 1,100 changes of 1,000 likes: a guard per like (liked and unliked, one guard),
            // 99 of them to a transaction with the post's count.
            assert_eq!(likes.once.twin_transactions(), 11);
        }
    }
}

#[tokio::test]
async fn conflicts_and_lost_answers_are_sent_again_not_failed() {
    let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&hot_and_diverse()))).await;
    let tables = tables("Totals", "Latest");
    let once = ExactlyOnce::in_memory().key_schema("Latest", ["pk"]);
    once.twin_faults(TwinFaults { conflict_every: 2, lost_answer_every: 3, fail_after: 0 });
    for chunk in changes.chunks(100) {
        assert!(fold_all(&once, &tables, chunk).await.is_ok());
    }
    assert!(once.twin_conflicts_made() > 0);
    assert_eq!(twin_state(&once, &tables, &changes), model(&changes));
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = (0u8..6, prop::option::weighted(0.85, (0u32..3, -5i64..50)));
    prop::collection::vec(op, 1..160)
}

/// Each delivery as Lambda makes them: from the first unreported change on, until one
/// answers without a failure; faults on the way.
async fn deliver_until_done(
    once: &ExactlyOnce,
    tables: &Tables,
    changes: &[Change<Thing, ThingKey>],
    mut crash: u64,
) -> Result<(), String> {
    let mut from = 0;
    for _ in 0..50 {
        once.twin_faults(TwinFaults { conflict_every: 4, lost_answer_every: 5, fail_after: crash });
        match fold_all(once, tables, &changes[from..]).await {
            Ok(_) => return Ok(()),
            Err((index, _)) => {
                from += index;
                crash = 0;
            }
        }
    }
    Err("no delivery went through".into())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Whatever the changes, the crash point and the faults: redelivered from the reported
    /// change, then again whole, the state is each change applied once, in stream order.
    #[test]
    fn folds_apply_each_change_exactly_once(ops in ops(), crash in 0u64..6) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()
            .unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(async {
            let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&ops))).await;
            let tables = tables("Totals", "Latest");
            let once = ExactlyOnce::in_memory().key_schema("Latest", ["pk"]);
            let small = changes.len() / 2;
            prop_assert!(deliver_until_done(&once, &tables, &changes[..small], crash).await.is_ok());
            prop_assert!(deliver_until_done(&once, &tables, &changes, crash).await.is_ok());
            prop_assert_eq!(twin_state(&once, &tables, &changes), model(&changes));
            prop_assert_eq!(once.twin_refusals(), 0);
            Ok(())
        })?;
    }
}

/// A counter then a put then a counter on one target, from one item's changes: they cannot
/// merge, so the item's changes go in three transactions, in order.
#[tokio::test]
async fn writes_that_cannot_merge_go_in_later_transactions_in_order() {
    let ops: Vec<Op> = vec![(1, Some((0, 1))), (1, Some((0, 2))), (1, Some((0, 3)))];
    let changes: Vec<Change<Thing, ThingKey>> = collect_changes(&lambda_event(&records(&ops))).await;
    let once = ExactlyOnce::in_memory().key_schema("Latest", ["pk"]);
    let target = || [("pk", AttributeValue::S("x".into()))];
    let folded = once
        .fold(&changes, |change| {
            let n = change.new_image().map_or(0, |thing| thing.n);
            Ok(match n {
                2 => Fold::new().put(
                    "Latest",
                    HashMap::from([
                        ("pk".to_owned(), AttributeValue::S("x".into())),
                        ("v".to_owned(), AttributeValue::N("7".into())),
                    ]),
                ),
                _ => Fold::new().add("Latest", target(), "n", n),
            })
        })
        .await
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(folded, Folded { written: 3, already_applied: 0, transactions: 3 });
    let key = HashMap::from([("pk".to_owned(), AttributeValue::S("x".into()))]);
    let item = once.twin_item("Latest", &key);
    assert_eq!((number(item.as_ref(), "v"), number(item.as_ref(), "n")), (7, 3), "{item:?}");
    assert_eq!(once.twin_refusals(), 0);
}
