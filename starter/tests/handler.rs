//! The function's tests, without AWS: its logic on the test kit's typed changes, its router
//! on the events Lambda would send, and the fixture `cargo lambda invoke` uses.

use ddbstream::testing::{changes, lambda_event, KeySchema, Table};
use ddbstream::{BoxError, Change, Context, StreamViewType};
use {{crate_name}}::{router, what_happened, Event, Order, OrderKey, DEFAULT_TABLE};

fn order(pk: &str, amount: i64, status: &str) -> Order {
    Order { pk: pk.to_owned(), amount, status: status.to_owned() }
}

fn orders_table() -> Table {
    Table::new(DEFAULT_TABLE, KeySchema::hash("pk"), StreamViewType::NewAndOldImages)
}

#[test]
fn each_change_means_what_it_should() -> Result<(), BoxError> {
    let mut orders = orders_table();
    orders.put_value(&order("order#1", 4250, "NEW"))?;
    orders.put_value(&order("order#1", 4250, "PAID"))?;
    orders.put_value(&order("order#1", 4300, "PAID"))?;
    let typed: Vec<Change<Order, OrderKey>> = changes(&orders.stream().records())?;
    let events: Vec<Option<Event>> = typed.iter().map(what_happened).collect();
    let placed = Event::Placed { pk: "order#1".into(), amount: 4250 };
    let paid = Event::StatusChanged { pk: "order#1".into(), from: "NEW".into(), to: "PAID".into() };
    assert_eq!(events, [Some(placed), Some(paid), None]);
    Ok(())
}

#[tokio::test]
async fn a_failing_change_is_reported_and_lambda_retries_from_it() -> Result<(), BoxError> {
    let mut orders = orders_table();
    let mut records = Vec::new();
    for (pk, amount) in [("order#1", 100), ("order#2", -5), ("order#3", 70)] {
        records.extend(orders.put_value(&order(pk, amount, "NEW"))?);
    }
    let answer = router(DEFAULT_TABLE).handle(&lambda_event(&records), &Context::default()).await?;
    assert_eq!(answer.failed_identifiers(), [records[1].sequence_number.as_str()]);
    Ok(())
}

#[tokio::test]
async fn the_fixture_is_processed_in_full() -> Result<(), BoxError> {
    let fixture = include_bytes!("../fixtures/insert.json");
    let answer = router(DEFAULT_TABLE).handle(fixture, &Context::default()).await?;
    assert!(answer.batch_item_failures.is_empty(), "{answer:?}");
    Ok(())
}
