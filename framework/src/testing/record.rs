//! One stream record as the in-memory stream keeps it, and its exact Lambda JSON.

use serde_dynamo::Item;
use serde_json::{json, Value};

use crate::payload::SequenceNumber;
use crate::payload::{EventName, StreamViewType};

/// A record of the in-memory stream: what DynamoDB Streams would hold for one write.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct StreamRecord {
    /// 32 lowercase hex digits.
    pub event_id: String,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: EventName,
    /// The item's key attributes.
    pub keys: Item,
    /// The item after the write, if the view type carries it.
    pub new_image: Option<Item>,
    /// The item before the write, if the view type carries it.
    pub old_image: Option<Item>,
    /// Increasing decimal sequence number (22+ digits).
    pub sequence_number: SequenceNumber,
    /// Keys plus carried images, by DynamoDB's item size rules.
    pub size_bytes: u64,
    /// Epoch seconds when the write happened (whole seconds, as Lambda receives them).
    pub approximate_creation_time: u64,
    /// The stream's view type.
    pub view_type: StreamViewType,
    /// Whether DynamoDB's TTL process made this delete (`userIdentity` is set).
    pub ttl_expiry: bool,
    /// The Region.
    pub region: String,
    /// The stream ARN (`eventSourceARN`), with its label.
    pub stream_arn: String,
}

impl StreamRecord {
    /// The record exactly as Lambda delivers it inside `Records`.
    pub fn to_lambda_json(&self) -> Value {
        let mut stream = json!({
            "ApproximateCreationDateTime": self.approximate_creation_time,
            "Keys": self.keys,
            "SequenceNumber": self.sequence_number,
            "SizeBytes": self.size_bytes,
            "StreamViewType": self.view_type,
        });
        if let Some(new) = &self.new_image {
            stream["NewImage"] = json!(new);
        }
        if let Some(old) = &self.old_image {
            stream["OldImage"] = json!(old);
        }
        let mut record = json!({
            "eventID": self.event_id,
            "eventName": self.event_name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": stream,
            "eventSourceARN": self.stream_arn,
        });
        if self.ttl_expiry {
            record["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        }
        record
    }
}
