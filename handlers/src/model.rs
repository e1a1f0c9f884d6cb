//! The domain: orders placed by customers.

use serde::Deserialize;

/// An item of the `Orders` table (stream: `NEW_AND_OLD_IMAGES`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Order {
    /// Partition key.
    pub order_id: String,
    /// The customer who placed it.
    pub customer_id: String,
    /// Amount in cents.
    pub amount: i64,
    /// `DRAFT`, `NEW`, `PAID`, `SHIPPED`, ... Drafts carry a TTL (`expires_at`).
    pub status: String,
}

/// The key of the `Orders` table.
#[derive(Clone, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct OrderKey {
    /// Partition key.
    pub order_id: String,
}

/// An item of the `Customers` table (stream: `NEW_AND_OLD_IMAGES`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Customer {
    /// Partition key.
    pub customer_id: String,
    /// Unique per customer; the key of the `CustomersByEmail` view.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Loyalty tier, if any.
    #[serde(default)]
    pub tier: Option<String>,
}

/// The key of the `Customers` table.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct CustomerKey {
    /// Partition key.
    pub customer_id: String,
}

/// The status that triggers a shipping notification.
pub const SHIPPED: &str = "SHIPPED";
