//! Deployable DynamoDB Streams functions built on [`ddbstream`], for a small shop: orders
//! placed by customers.
//!
//! | Function | Stream(s) | Effect |
//! | --- | --- | --- |
//! | `orders-projector` | Orders | per-customer totals in `CustomerTotals` ([`orders::totals`]); one `Outbox` notification when an order ships ([`orders::shipping`]) |
//! | `customers-replicator` | Customers | `CustomersByEmail`, the customers keyed by email ([`replica`]) |
//! | `audit-archive` | Orders, Customers | every change into `Audit`, TTL expiries marked ([`audit`]) |
//! | `order-windows` | Orders, through its Kinesis streaming destination | new orders per 5-minute tumbling window and shard in `OrderWindows`, once per window ([`order_windows`]) |
//! | `fault-injection` | any | a test tool for failure handling ([`fault_injection`]) |
//! | (example) | Likes | `PostStats.like_count` per post, exactly once ([`likes`]) |
//!
//! Each binary's `main.rs` is thin Lambda glue; the logic here is plain functions of typed
//! changes, and the `plan` functions return the DynamoDB writes without making them, so they
//! can be tested with no AWS at all.

pub mod audit;
pub mod config;
pub mod fault_injection;
pub mod likes;
pub mod model;
pub mod order_windows;
pub mod orders;
pub mod replica;
pub mod store;
