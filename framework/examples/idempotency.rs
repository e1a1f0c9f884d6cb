//! Effects outside DynamoDB, once (feature `dynamodb`): `Idempotency` claims a record (by
//! its event id, or a key you derive with `once_keyed`) in a DynamoDB table before the
//! effect (an e-mail, an HTTP call, a queue message) and marks it done after, storing the
//! effect's result. A redelivery of a done record skips the effect and returns that result.
//!
//! ```sh
//! cargo run -p ddbstream --example idempotency --features dynamodb,testing
//! ```
//!
//! A welcome e-mail per new customer, against `Idempotency::in_memory()` (the twin with the
//! same claim rules; the `testing` feature builds the events). Against DynamoDB,
//! `Idempotency::new(client, "Claims")` (claims are the function's own, by
//! `AWS_LAMBDA_FUNCTION_NAME`; `.consumer("welcome")` names it outside Lambda). The batch is delivered twice; the example exits
//! non-zero unless each customer got one e-mail.

#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ddbstream::dynamodb::{Effect, EffectKey, Idempotency};
use ddbstream::testing::{lambda_event, KeySchema, Table};
use ddbstream::{BoxError, Change, Context, EventName, Router, State, StreamViewType};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Customer {
    pk: String,
    email: String,
}

/// The claims, and a stand-in for the mailer: how many e-mails went out.
#[derive(Clone)]
struct Welcome {
    claims: Idempotency,
    sent: Arc<AtomicUsize>,
}

async fn on_customer(State(welcome): State<Welcome>, change: Change<Customer>) -> Result<(), BoxError> {
    if change.event_name() != EventName::Insert {
        return Ok(());
    }
    let email = change.require_new()?.email.clone();
    let sent = Arc::clone(&welcome.sent);
    // The effect: runs only if no earlier delivery of this record ran it. Its key is the
    // same on every delivery: a mailer that deduplicates by it (an `Idempotency-Key`) drops
    // a second send after a crash between the send and the claim's completion.
    let send = |key: EffectKey| async move {
        sent.fetch_add(1, Ordering::SeqCst);
        Ok::<String, BoxError>(format!("message for {email}, idempotency key {}", &key.digest()[..12]))
    };
    let effect = welcome.claims.once(&change, send).await?;
    match effect {
        Effect::Ran(message) => tracing::info!(%message, "sent"),
        Effect::AlreadyDone(message) => tracing::info!(%message, "sent before: skipped"),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut customers = Table::new("Customers", KeySchema::hash("pk"), StreamViewType::NewImage);
    for (pk, email) in [("c-1", "ada@example.com"), ("c-2", "grace@example.com")] {
        customers.put_value(&Customer { pk: pk.to_owned(), email: email.to_owned() })?;
    }
    let event = lambda_event(&customers.stream().records());

    let welcome = Welcome { claims: Idempotency::in_memory(), sent: Arc::default() };
    let router = Router::new().with_state(welcome.clone()).stream("Customers", on_customer);
    for delivery in ["first delivery", "redelivery"] {
        let answer = router.handle(&event, &Context::default()).await?;
        let sent = welcome.sent.load(Ordering::SeqCst);
        println!("{delivery:<15} {sent} e-mails sent in all");
        if !answer.batch_item_failures.is_empty() || sent != 2 {
            return Err(format!("after the {delivery}: expected 2 e-mails in all, got {sent} ({answer:?})").into());
        }
    }
    Ok(())
}
