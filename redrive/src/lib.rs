//! `redrive`: what a failure destination kept (an S3 bucket's objects, an SQS queue's
//! messages), run again through the same router as the function, with each record's fate
//! reported. See `ddbstream::redrive` for what is recovered from where.

use aws_sdk_s3::Client as S3;
use aws_sdk_sqs::Client as Sqs;
use ddbstream::redrive::{redrive, ExpiredClaims, RecordFate, RedriveError, Redriven};
use ddbstream::runner::StreamSource;
use ddbstream::{error_chain, BoxError, Router};

/// One document's redrive: where it came from and what happened.
#[derive(Debug)]
pub struct Outcome {
    /// The S3 key or the SQS message id.
    pub document: String,
    /// Each record's fate, or why nothing could be redriven.
    pub result: Result<Redriven, RedriveError>,
}

impl Outcome {
    /// Whether every record of the document was processed.
    pub fn all_processed(&self) -> bool {
        self.result.as_ref().is_ok_and(Redriven::all_processed)
    }

    /// One line per record (`<document> <record> processed | failed: ... | not started`), or
    /// one line saying why nothing was redriven.
    pub fn lines(&self) -> Vec<String> {
        match &self.result {
            Err(error) => vec![format!("{} not redriven: {error}", self.document)],
            Ok(redriven) => redriven
                .records
                .iter()
                .map(|(record, fate)| {
                    let fate = match fate {
                        RecordFate::Processed => "processed".to_owned(),
                        RecordFate::Failed(why) => format!("failed: {why}"),
                        RecordFate::NotStarted => "not started (an earlier record failed)".to_owned(),
                        RecordFate::Unread(why) => format!("not read ({why}): redrive again"),
                    };
                    format!("{} {record} {fate}", self.document)
                })
                .collect(),
        }
    }
}

/// Redrives every object under `prefix` in `bucket` (an S3 on-failure destination), in key
/// order. Objects are left in place (the bucket's lifecycle rule expires them).
pub async fn from_bucket<S: StreamSource>(
    s3: &S3,
    bucket: &str,
    prefix: &str,
    router: &Router,
    stream: Option<&S>,
    expired: ExpiredClaims,
) -> Result<Vec<Outcome>, BoxError> {
    let mut keys = Vec::new();
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| format!("ListObjectsV2 on {bucket}: {}", error_chain(&err)))?;
        keys.extend(page.contents().iter().filter_map(|object| object.key().map(str::to_owned)));
    }
    keys.sort();
    let mut outcomes = Vec::with_capacity(keys.len());
    for key in keys {
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .map_err(|err| format!("GetObject {bucket}/{key}: {}", error_chain(&err)))?;
        let body = object.body.collect().await.map_err(|err| format!("reading {bucket}/{key}: {err}"))?.into_bytes();
        let result = redrive(router, stream, &body, expired).await;
        outcomes.push(Outcome { document: format!("s3://{bucket}/{key}"), result });
    }
    Ok(outcomes)
}

/// Redrives every message of `queue_url` (an SQS on-failure destination, or a queue
/// subscribed to an SNS one): a message is deleted once each of its records was processed,
/// and otherwise made visible again at once, for the next redrive (each message is
/// redriven once per run).
pub async fn from_queue<S: StreamSource>(
    sqs: &Sqs,
    queue_url: &str,
    router: &Router,
    stream: Option<&S>,
    expired: ExpiredClaims,
) -> Result<Vec<Outcome>, BoxError> {
    let mut outcomes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(900)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|err| format!("ReceiveMessage on {queue_url}: {}", error_chain(&err)))?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(outcomes);
        }
        let mut fresh = 0;
        for message in messages {
            let id = message.message_id().unwrap_or("?").to_owned();
            let handle = message.receipt_handle().unwrap_or_default().to_owned();
            if !seen.insert(id.clone()) {
                // A message that failed earlier in this run, received again: leave it for
                // the next run.
                show_again(sqs, queue_url, &id, &handle).await?;
                continue;
            }
            fresh += 1;
            let result = redrive(router, stream, message.body().unwrap_or_default().as_bytes(), expired).await;
            let outcome = Outcome { document: format!("sqs:{id}"), result };
            if outcome.all_processed() {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(&handle)
                    .send()
                    .await
                    .map_err(|err| format!("DeleteMessage {id}: {}", error_chain(&err)))?;
            } else {
                show_again(sqs, queue_url, &id, &handle).await?;
            }
            outcomes.push(outcome);
        }
        if fresh == 0 {
            // Only messages already redriven in this run are left.
            return Ok(outcomes);
        }
    }
}

/// Makes a received message visible again at once.
async fn show_again(sqs: &Sqs, queue_url: &str, id: &str, handle: &str) -> Result<(), BoxError> {
    sqs.change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(handle)
        .visibility_timeout(0)
        .send()
        .await
        .map_err(|err| format!("ChangeMessageVisibility {id}: {}", error_chain(&err)))?;
    Ok(())
}

/// An S3 client; with a local endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`), one
/// addressing buckets by path, as local servers need.
pub fn s3_client(config: &aws_config::SdkConfig) -> S3 {
    let local = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"].iter().any(|name| std::env::var_os(name).is_some());
    S3::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(local).build())
}

/// The functions whose routers [`router_of`] builds.
pub const FUNCTIONS: [&str; 5] =
    ["orders-projector", "customers-replicator", "audit-archive", "order-windows", "fault-injection"];

/// The router of one of the shop's functions, built as its `main` builds it (its settings
/// from the same environment variables).
pub async fn router_of(function: &str, config: &aws_config::SdkConfig) -> Result<Router, BoxError> {
    let client = aws_sdk_dynamodb::Client::new(config);
    Ok(match function {
        "orders-projector" => handlers::orders::router(client, handlers::orders::Tables::from_env()?),
        "customers-replicator" => handlers::replica::router(client, handlers::replica::Tables::from_env()?),
        "audit-archive" => handlers::audit::router(client, handlers::audit::Tables::from_env()?),
        "order-windows" => handlers::order_windows::router(handlers::order_windows::Windows::from_env(client)?),
        "fault-injection" => handlers::fault_injection::router(),
        other => return Err(format!("unknown function `{other}`: one of {}", FUNCTIONS.join(", ")).into()),
    })
}
