//! A failure destination's document: the discarded batch's metadata and, from an S3
//! destination, the invocation's payload.

use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

/// Which records a discarded batch held (`DDBStreamBatchInfo`, or `KinesisBatchInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchInfo {
    /// The shard.
    pub shard_id: String,
    /// The first record's sequence number.
    pub start_sequence_number: String,
    /// The last record's sequence number.
    pub end_sequence_number: String,
    /// The stream's ARN (`streamArn`).
    pub stream_arn: String,
    /// How many records the batch held.
    #[serde(default)]
    pub batch_size: usize,
}

/// A failure destination's document, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureRecord {
    /// Why Lambda discarded the batch (`RetryAttemptsExhausted`, `RecordAgeExceeded`...).
    pub condition: String,
    /// Which records.
    pub batch: BatchInfo,
    /// The event Lambda sent the function, when the destination keeps it (S3).
    pub payload: Option<Vec<u8>>,
}

#[derive(Deserialize)]
struct Document {
    #[serde(rename = "requestContext", default)]
    request_context: Value,
    #[serde(rename = "DDBStreamBatchInfo", default)]
    dynamodb: Option<BatchInfo>,
    #[serde(rename = "KinesisBatchInfo", default)]
    kinesis: Option<BatchInfo>,
    #[serde(default)]
    payload: Option<Value>,
}

impl FailureRecord {
    /// Reads a document as a failure destination writes it; an SNS notification (as an SQS
    /// queue subscribed to the topic receives it) is unwrapped first.
    pub fn parse(document: &[u8]) -> Result<Self, String> {
        let value: Value =
            serde_json::from_slice(document).map_err(|err| format!("the document is not JSON ({err})"))?;
        let value = match (&value["Type"], &value["Message"]) {
            (Value::String(kind), Value::String(message)) if kind == "Notification" => serde_json::from_str(message)
                .map_err(|err| format!("the SNS notification's Message is not JSON ({err})"))?,
            _ => value,
        };
        let document: Document = serde_json::from_value(value)
            .map_err(|err| format!("the document does not read as a failure record ({err})"))?;
        let batch = document.dynamodb.or(document.kinesis).ok_or(
            "the document has neither DDBStreamBatchInfo nor KinesisBatchInfo: it is not a stream mapping's failure \
             record",
        )?;
        let payload = document.payload.map(payload_bytes).transpose()?;
        let condition = document.request_context["condition"].as_str().unwrap_or("unknown").to_owned();
        Ok(Self { condition, batch, payload })
    }
}

/// The payload as event bytes: a JSON value as is; a string holding JSON, or base64 of it.
fn payload_bytes(payload: Value) -> Result<Vec<u8>, String> {
    match payload {
        Value::String(text) => {
            let trimmed = text.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                return Ok(text.into_bytes());
            }
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|err| format!("the payload is a string but neither JSON nor base64 ({err})"))
        }
        Value::Null => Err("the payload is null".into()),
        value => serde_json::to_vec(&value).map_err(|err| format!("the payload does not serialize ({err})")),
    }
}

#[cfg(test)]
mod tests {
    use super::FailureRecord;

    const INFO: &str = r#""DDBStreamBatchInfo":{"shardId":"s","startSequenceNumber":"1","endSequenceNumber":"2","streamArn":"arn","batchSize":2}"#;

    #[test]
    fn reads_each_shape_a_destination_writes() {
        let event = r#"{"Records":[]}"#;
        let metadata = format!(r#"{{"requestContext":{{"condition":"RetryAttemptsExhausted"}},{INFO}}}"#);
        let as_object = format!(r#"{{{INFO},"payload":{event}}}"#);
        let as_text = format!(r#"{{{INFO},"payload":{}}}"#, serde_json::json!(event));
        let as_base64 = format!(r#"{{{INFO},"payload":"eyJSZWNvcmRzIjpbXX0="}}"#);
        let via_sns = serde_json::json!({"Type": "Notification", "Message": metadata}).to_string();
        let payload = |doc: &str| {
            FailureRecord::parse(doc.as_bytes()).map(|r| r.payload.map(|p| String::from_utf8_lossy(&p).into_owned()))
        };
        assert_eq!(payload(&metadata), Ok(None));
        assert_eq!(payload(&via_sns), Ok(None));
        for doc in [&as_object, &as_text, &as_base64] {
            assert_eq!(payload(doc), Ok(Some(event.to_owned())), "{doc}");
        }
        let read = FailureRecord::parse(metadata.as_bytes());
        assert_eq!(read.map(|r| (r.condition, r.batch.batch_size)), Ok(("RetryAttemptsExhausted".to_owned(), 2)));
    }

    #[test]
    fn names_what_is_wrong() {
        for (doc, expected) in [
            ("nope", "not JSON"),
            (r#"{"requestContext":{}}"#, "neither DDBStreamBatchInfo"),
            (r#"{"Type":"Notification","Message":"x"}"#, "Message is not JSON"),
        ] {
            let error = FailureRecord::parse(doc.as_bytes()).err().unwrap_or_default();
            assert!(error.contains(expected), "{error:?} should contain {expected:?}");
        }
        let bad = format!(r#"{{{INFO},"payload":"!!"}}"#);
        assert!(FailureRecord::parse(bad.as_bytes()).is_err_and(|e| e.contains("neither JSON nor base64")));
    }
}
