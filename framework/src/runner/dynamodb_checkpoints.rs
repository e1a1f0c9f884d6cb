//! [`CheckpointStore`] in a DynamoDB table, with conditional writes.

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;

use super::checkpoint::{Checkpoint, CheckpointError, CheckpointStore};

/// Checkpoints in a DynamoDB table whose partition key is the string attribute `shard`
/// (`<consumer>|<stream ARN>|<shard id>`); the checkpoint is in `position`. Give each
/// application reading a stream its own [`consumer`](Self::consumer) name: two
/// applications with one name would fight over one checkpoint. Every save is a
/// conditional write on the position read before, so of two runners on one shard only one
/// advances it; the other gets [`CheckpointError::Conflict`] and stops reading that shard.
///
/// For whoever looks at the table, each item also says who wrote it last (`owner`: host
/// name and process id), when (`updated_at`, epoch seconds) and, for a position inside the
/// shard, the sequence number (`sequence_number`).
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

    /// Creates the table (on-demand billing) and waits until it is active; an existing
    /// table is left as it is.
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
    async fn load(&self, stream_arn: &str, shard_id: &str) -> Result<Option<Checkpoint>, CheckpointError> {
        let read = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("shard", self.key(stream_arn, shard_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error(&self.table, "GetItem", &e))?;
        match read.item().and_then(|item| item.get("position")) {
            None => Ok(None),
            Some(AttributeValue::S(text)) => Checkpoint::decode(text).map(Some),
            Some(other) => {
                Err(CheckpointError::Store(format!("checkpoint `position` is not a string: {other:?}").into()))
            }
        }
    }

    async fn save(
        &self,
        stream_arn: &str,
        shard_id: &str,
        expected: Option<&Checkpoint>,
        next: &Checkpoint,
    ) -> Result<(), CheckpointError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("shard", self.key(stream_arn, shard_id))
            .item("position", AttributeValue::S(next.encode()))
            .item("owner", AttributeValue::S(owner()))
            .item("updated_at", AttributeValue::N(now_seconds().to_string()))
            // If the condition fails, see what is stored: a retried write of ours that had
            // in fact succeeded is no conflict.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let put = match next {
            Checkpoint::At(seq) | Checkpoint::After(seq) => {
                put.item("sequence_number", AttributeValue::S(seq.as_str().to_owned()))
            }
            Checkpoint::Finished => put,
        };
        let put = match expected {
            None => {
                put.condition_expression("attribute_not_exists(#shard)").expression_attribute_names("#shard", "shard")
            }
            Some(expected) => put
                .condition_expression("#position = :expected")
                .expression_attribute_names("#position", "position")
                .expression_attribute_values(":expected", AttributeValue::S(expected.encode())),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    let stored = failed.item().and_then(|item| item.get("position")).and_then(|v| v.as_s().ok());
                    if stored == Some(&next.encode()) {
                        Ok(())
                    } else {
                        Err(CheckpointError::Conflict { shard_id: shard_id.to_owned() })
                    }
                }
                _ => Err(store_error(&self.table, "PutItem", &error)),
            },
        }
    }
}

/// A store error naming the table and the call, with the SDK error's source chain (the
/// service's code and message), not the raw HTTP response.
fn store_error(table: &str, operation: &str, error: &dyn std::error::Error) -> CheckpointError {
    CheckpointError::Store(format!("table `{table}`: {operation} failed: {}", crate::error_chain(error)).into())
}

/// Who writes the checkpoints: the host name (from `HOSTNAME`, or `/etc/hostname`) and the
/// process id.
fn owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned());
    format!("{host}/{}", std::process::id())
}

fn now_seconds() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
