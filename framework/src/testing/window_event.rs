//! Tumbling-window events: what Lambda adds to each invocation of a window.

use serde_json::{json, Value};

/// A tumbling window's fields, as Lambda adds them to each of the window's invocations.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowInvocation {
    /// The window's start, in seconds since the Unix epoch (a multiple of its length).
    pub start: u64,
    /// `TumblingWindowInSeconds`.
    pub seconds: u64,
    /// The state the previous invocation of this window answered with (`{}` at its start).
    pub state: Value,
    /// The shard.
    pub shard_id: String,
    /// The mapping's source ARN (the stream's, or the Kinesis stream's).
    pub event_source_arn: String,
    /// `isFinalInvokeForWindow`.
    pub is_final: bool,
    /// `isWindowTerminatedEarly`.
    pub terminated_early: bool,
}

impl WindowInvocation {
    /// The window of `seconds` that holds the instant `at` (seconds since the epoch), at its
    /// start: state `{}`, not final.
    pub fn holding(at: u64, seconds: u64, shard_id: &str, event_source_arn: &str) -> Self {
        let seconds = seconds.max(1);
        Self {
            start: at - at % seconds,
            seconds,
            state: json!({}),
            shard_id: shard_id.to_owned(),
            event_source_arn: event_source_arn.to_owned(),
            is_final: false,
            terminated_early: false,
        }
    }

    /// This window with `state` carried over.
    pub fn with_state(mut self, state: Value) -> Self {
        self.state = state;
        self
    }

    /// This window's final invocation.
    pub fn last(mut self) -> Self {
        self.is_final = true;
        self
    }

    /// Whether the instant `at` lies in this window.
    pub fn holds(&self, at: u64) -> bool {
        (self.start..self.start + self.seconds).contains(&at)
    }
}

/// `event` (a [`lambda_event`](crate::testing::lambda_event) or a
/// [`kinesis_event`](crate::testing::kinesis_event), as bytes) as an invocation of `window`:
/// with `window`, `state`, `shardId`, `eventSourceARN`, `isFinalInvokeForWindow` and
/// `isWindowTerminatedEarly`.
pub fn window_event(event: &[u8], window: &WindowInvocation) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(event).unwrap_or_else(|_| json!({ "Records": [] }));
    if let Some(object) = event.as_object_mut() {
        object.insert(
            "window".to_owned(),
            json!({ "start": iso8601(window.start), "end": iso8601(window.start + window.seconds) }),
        );
        object.insert("state".to_owned(), window.state.clone());
        object.insert("shardId".to_owned(), json!(window.shard_id));
        object.insert("eventSourceARN".to_owned(), json!(window.event_source_arn));
        object.insert("isFinalInvokeForWindow".to_owned(), json!(window.is_final));
        object.insert("isWindowTerminatedEarly".to_owned(), json!(window.terminated_early));
    }
    serde_json::to_vec(&event).unwrap_or_default()
}

/// Seconds since the epoch as ISO 8601 in UTC (`2026-11-29T10:00:00Z`), as Lambda writes
/// window bounds.
pub fn iso8601(seconds: u64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3_600, rest % 3_600 / 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::iso8601;

    #[test]
    fn formats_instants_as_lambda_writes_window_bounds() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_000_000), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(1_596_128_400), "2020-07-30T17:00:00Z");
    }
}
