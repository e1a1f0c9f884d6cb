//! What a runner says about itself while it runs: a progress line (at info while records
//! are processed, at debug when idle) and, when the router's metrics are on, an EMF line
//! with the same figures.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;

use super::builder::Runner;
use super::checkpoint::CheckpointStore;
use super::session::Session;
use super::shard::Phase;
use super::source::StreamSource;
use crate::payload::StreamArn;

impl<S: StreamSource, C: CheckpointStore> Runner<S, C> {
    /// Logs, and emits as metrics, the runner's state since the last call.
    pub(crate) fn health(&self, session: &mut Session) {
        let owned: Vec<String> = session.leases.all().into_iter().map(|(id, _)| id).collect();
        let standby = session.shards.values().filter(|s| s.phase == Phase::Standby).count();
        let max_lag_ms = session
            .shards
            .values()
            .filter(|s| owned.contains(&s.id))
            .filter_map(|s| s.lag)
            .max()
            .map(|lag| u64::try_from(lag.as_millis()).unwrap_or(u64::MAX));
        let (now, then) = (&session.report, &session.last_health);
        let processed = now.processed - then.processed;
        let retries = now.failed_attempts - then.failed_attempts;
        let sunk = now.sent_to_sink - then.sent_to_sink;
        if processed > 0 || retries > 0 || sunk > 0 {
            tracing::info!(
                stream_arn = %session.arn, owned = owned.len(), standby, processed, retries, sent_to_sink = sunk,
                max_lag_ms = ?max_lag_ms, total_processed = now.processed, "runner progress"
            );
        } else {
            tracing::debug!(stream_arn = %session.arn, owned = owned.len(), standby, max_lag_ms = ?max_lag_ms, "runner idle");
        }
        if let Some(metrics) = self.router.metrics_config() {
            let table = StreamArn::parse(&session.arn).map_or("unknown", |arn| arn.table);
            let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
            let mut line = json!({
                "table": table,
                "RunnerOwnedShards": owned.len(),
                "RunnerStandbyShards": standby,
                "RunnerProcessed": processed,
                "RunnerRetries": retries,
                "RunnerRecordsSunk": sunk,
                "_aws": {
                    "Timestamp": now_ms as u64,
                    "CloudWatchMetrics": [{
                        "Namespace": metrics.namespace,
                        "Dimensions": [["table"]],
                        "Metrics": [
                            { "Name": "RunnerOwnedShards", "Unit": "Count" },
                            { "Name": "RunnerStandbyShards", "Unit": "Count" },
                            { "Name": "RunnerProcessed", "Unit": "Count" },
                            { "Name": "RunnerRetries", "Unit": "Count" },
                            { "Name": "RunnerRecordsSunk", "Unit": "Count" },
                        ],
                    }],
                },
            });
            if let (Some(lag), Some(root)) = (max_lag_ms, line.as_object_mut()) {
                root.insert("RunnerLag".to_owned(), json!(lag));
                if let Some(definitions) = root
                    .get_mut("_aws")
                    .and_then(|aws| aws.pointer_mut("/CloudWatchMetrics/0/Metrics"))
                    .and_then(|m| m.as_array_mut())
                {
                    definitions.push(json!({ "Name": "RunnerLag", "Unit": "Milliseconds" }));
                }
            }
            (metrics.sink)(&line.to_string());
        }
        session.last_health = session.report.clone();
    }
}
