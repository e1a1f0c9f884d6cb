//! Runs the router over a generated payload a few times, for profilers
//! (`valgrind --tool=callgrind target/release/examples/profile_decode [records] [rounds]`,
//! 1,000 records and 3 rounds unless given).

#![allow(missing_docs)]

#[path = "../benches/support/mod.rs"]
mod support;

use ddbstream::{BoxError, Change, Context, Router};
use support::{payload, Order, OrderKey};

fn main() {
    let mut args = std::env::args().skip(1).map(|arg| arg.parse::<usize>().ok());
    let records = args.next().flatten().unwrap_or(1_000);
    let rounds = args.next().flatten().unwrap_or(3);
    let bytes = payload(records);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap_or_else(|e| panic!("{e}"));
    let router = Router::new().stream("Orders", |change: Change<Order, OrderKey>| {
        std::hint::black_box(change.new_image().map(|o| o.amount));
        std::future::ready(Ok::<(), BoxError>(()))
    });
    for _ in 0..rounds {
        let response = runtime.block_on(router.handle(&bytes, &Context::default()));
        assert!(response.is_ok_and(|r| r.batch_item_failures.is_empty()));
    }
}
