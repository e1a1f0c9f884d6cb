//! Who made a change: DynamoDB's TTL process, on the deletes it makes.

use serde::{Deserialize, Serialize};

/// The `userIdentity` of a record. DynamoDB sets it only on deletes made by TTL expiry.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub struct UserIdentity {
    /// `Service` for TTL deletes.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `dynamodb.amazonaws.com` for TTL deletes.
    #[serde(rename = "principalId", default)]
    pub principal_id: String,
}

impl UserIdentity {
    /// Whether this identity is DynamoDB's TTL process.
    pub fn is_dynamodb_service(&self) -> bool {
        self.kind == "Service" && self.principal_id == "dynamodb.amazonaws.com"
    }
}
