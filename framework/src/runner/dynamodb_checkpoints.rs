//! [`CheckpointStore`] in a DynamoDB table, with conditional writes.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore, Save, ShardEntry};
use super::lease::Lease;

/// Checkpoints and leases in a DynamoDB table whose partition key is the string attribute
/// `shard` (`<consumer>|<stream ARN>|<shard id>`). Give each application reading a stream
/// its own [`consumer`](Self::consumer) name: two applications with one name would share
/// one set of checkpoints and leases.
///
/// One item per shard, for whoever looks at the table:
///
/// | attribute | what |
/// |---|---|
/// | `position` | the checkpoint (`after:<sequence number>`, `at:<…>`, `finished`) |
/// | `sequence_number` | the sequence number of the checkpoint, for a position inside the shard |
/// | `updated_at` | when the checkpoint last moved (epoch milliseconds) |
/// | `lag_ms` | how old the last processed record was when it was checkpointed |
/// | `owner` | the runner holding the shard's lease (absent once released) |
/// | `heartbeat` | counts up at every renewal of the lease |
/// | `lease_ms` | the lease's duration |
/// | `lease_expires_at` | when the lease runs out without a renewal (epoch milliseconds, by the owner's clock) |
///
/// Every write is conditional: a checkpoint moves only from the position its owner read and
/// only while the `owner` is the writer; a lease changes hands only from the owner and
/// heartbeat its taker saw.
///
/// # AWS permissions and schema
///
/// - The table: partition key `shard` (string), no sort key, no TTL. Attribute types:
///   `position`, `sequence_number` and `owner` are strings; `updated_at`, `lag_ms`,
///   `heartbeat`, `lease_ms` and `lease_expires_at` numbers. Items are never deleted: one
///   stays for every shard the consumer has read.
/// - `dynamodb:GetItem` on the table: a shard's checkpoint and lease, read consistently.
/// - `dynamodb:UpdateItem` on the table: every write (a checkpoint; taking, renewing and
///   releasing a lease). The first lease of a shard creates its item: no `dynamodb:PutItem`,
///   no `dynamodb:DeleteItem`. None is inside a transaction.
/// - `dynamodb:CreateTable` on the table, only for [`create_table`](Self::create_table).
#[derive(Clone, Debug)]
pub struct DynamoDbCheckpoints {
    client: Client,
    table: String,
    consumer: String,
}

impl DynamoDbCheckpoints {
    /// Checkpoints in `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), consumer: "default".to_owned() }
    }

    /// The name of the application whose progress these checkpoints are (default
    /// `default`).
    pub fn consumer(mut self, name: impl Into<String>) -> Self {
        self.consumer = name.into();
        self
    }

    /// Creates the table (partition key `shard`, string; on-demand billing); an existing
    /// table is left as it is. Needs `dynamodb:CreateTable`. It returns once `CreateTable`
    /// is accepted and does not wait for the table to become active (no `DescribeTable`): a
    /// new table is `CREATING` for a while, and reads and writes fail until it is `ACTIVE`.
    pub async fn create_table(&self) -> Result<(), CheckpointError> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("shard")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(|e| CheckpointError::Store(e.into()))?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("shard")
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(|e| CheckpointError::Store(e.into()))?,
            )
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => Ok(()),
            Err(error) => Err(store_error(&self.table, "CreateTable", &error)),
        }
    }

    fn key(&self, stream_arn: &str, shard_id: &str) -> AttributeValue {
        AttributeValue::S(format!("{}|{stream_arn}|{shard_id}", self.consumer))
    }
}

impl CheckpointStore for DynamoDbCheckpoints {
    async fn load(&self, stream_arn: &str, shard_id: &str) -> Result<ShardEntry, CheckpointError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("shard", self.key(stream_arn, shard_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(&self.table, "GetItem", &e))?;
        let Some(item) = read.item() else { return Ok(ShardEntry::default()) };
        let checkpoint = match item.get("position") {
            None => None,
            Some(AttributeValue::S(text)) => Some(Checkpoint::decode(text)?),
            Some(other) => {
                return Err(CheckpointError::Store(
                    format!("table `{}`: checkpoint `position` is not a string: {other:?}", self.table).into(),
                ))
            }
        };
        Ok(ShardEntry { checkpoint, lease: lease_of(item) })
    }

    async fn save(&self, stream_arn: &str, shard_id: &str, save: Save<'_>) -> Result<(), CheckpointError> {
        let mut set = vec!["#position = :next", "updated_at = :now"];
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("shard", self.key(stream_arn, shard_id))
            .expression_attribute_names("#position", "position")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":next", AttributeValue::S(save.next.encode()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms().to_string()))
            .expression_attribute_values(":me", AttributeValue::S(save.owner.to_owned()))
            // If the condition fails, see what is stored: a retried write of ours that had
            // in fact succeeded is no conflict.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match save.next {
            Checkpoint::At(seq) | Checkpoint::After(seq) => {
                set.push("sequence_number = :seq");
                update.expression_attribute_values(":seq", AttributeValue::S(seq.as_str().to_owned()))
            }
            Checkpoint::Finished => update,
        };
        let update = match save.lag {
            Some(lag) => {
                set.push("lag_ms = :lag");
                update.expression_attribute_values(":lag", AttributeValue::N(lag.as_millis().to_string()))
            }
            None => update,
        };
        let update = match save.expected {
            None => update.condition_expression("#owner = :me AND attribute_not_exists(#position)"),
            Some(expected) => update
                .condition_expression("#owner = :me AND #position = :expected")
                .expression_attribute_values(":expected", AttributeValue::S(expected.encode())),
        };
        match update.update_expression(format!("SET {}", set.join(", "))).send().await {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    let stored = |name: &str| failed.item().and_then(|item| item.get(name)).and_then(|v| v.as_s().ok());
                    if stored("position") == Some(&save.next.encode())
                        && stored("owner").map(String::as_str) == Some(save.owner)
                    {
                        Ok(())
                    } else {
                        Err(CheckpointError::Conflict { shard_id: shard_id.to_owned() })
                    }
                }
                _ => Err(store_error(&self.table, "UpdateItem", &error)),
            },
        }
    }

    async fn lease(
        &self,
        stream_arn: &str,
        shard_id: &str,
        expected: Option<&Lease>,
        next: &Lease,
    ) -> Result<(), CheckpointError> {
        let expires = now_ms().saturating_add(u64::try_from(next.duration.as_millis()).unwrap_or(u64::MAX));
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("shard", self.key(stream_arn, shard_id))
            .update_expression(
                "SET #owner = :owner, heartbeat = :heartbeat, lease_ms = :ms, lease_expires_at = :expires",
            )
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", AttributeValue::S(next.owner.clone()))
            .expression_attribute_values(":heartbeat", AttributeValue::N(next.heartbeat.to_string()))
            .expression_attribute_values(":ms", AttributeValue::N(next.duration.as_millis().to_string()))
            .expression_attribute_values(":expires", AttributeValue::N(expires.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let update = match expected {
            None => update.condition_expression("attribute_not_exists(#owner)"),
            Some(expected) => update
                .condition_expression("#owner = :was AND heartbeat = :beat")
                .expression_attribute_values(":was", AttributeValue::S(expected.owner.clone()))
                .expression_attribute_values(":beat", AttributeValue::N(expected.heartbeat.to_string())),
        };
        match update.send().await {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    if failed.item().and_then(lease_of).as_ref() == Some(next) {
                        Ok(())
                    } else {
                        Err(CheckpointError::Conflict { shard_id: shard_id.to_owned() })
                    }
                }
                _ => Err(store_error(&self.table, "UpdateItem", &error)),
            },
        }
    }

    async fn release(&self, stream_arn: &str, shard_id: &str, held: &Lease) -> Result<(), CheckpointError> {
        let released = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("shard", self.key(stream_arn, shard_id))
            .update_expression("REMOVE #owner, lease_expires_at")
            .condition_expression("#owner = :me AND heartbeat = :beat")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", AttributeValue::S(held.owner.clone()))
            .expression_attribute_values(":beat", AttributeValue::N(held.heartbeat.to_string()))
            .send()
            .await;
        match released {
            Ok(_) => Ok(()),
            // Not ours any more: nothing to give up.
            Err(error)
                if error.as_service_error().is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(())
            }
            Err(error) => Err(store_error(&self.table, "UpdateItem", &error)),
        }
    }
}

/// The lease an item holds, if it names an owner.
fn lease_of(item: &HashMap<String, AttributeValue>) -> Option<Lease> {
    let owner = item.get("owner")?.as_s().ok()?.clone();
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
    Some(Lease {
        owner,
        heartbeat: number("heartbeat").unwrap_or(0),
        duration: Duration::from_millis(number("lease_ms").unwrap_or(0)),
    })
}

/// A store error naming the table and the call, with the SDK error's source chain (the
/// service's code and message), not the raw HTTP response.
fn store_error(table: &str, operation: &str, error: &dyn std::error::Error) -> CheckpointError {
    CheckpointError::Store(format!("table `{table}`: {operation} failed: {}", crate::error::error_chain(error)).into())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
