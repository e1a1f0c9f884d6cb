//! Tumbling windows (`TumblingWindowInSeconds` on a DynamoDB stream or Kinesis mapping):
//! the event gains the window's bounds, the state returned by the previous invocation of
//! that window, the shard, and whether this is the window's final invocation. The answer
//! must carry `state`.

use serde::Deserialize;
use serde_json::value::RawValue;

/// A window event's window fields, as the event holds them.
#[derive(Debug, Default)]
pub(crate) struct WindowFields<'a> {
    pub(crate) window: Bounds,
    /// The previous invocation's answer `state` (`{}` when the window starts).
    pub(crate) state: Option<&'a RawValue>,
    pub(crate) shard_id: String,
    /// The mapping's source: the DynamoDB stream's or the Kinesis stream's ARN.
    pub(crate) event_source_arn: String,
    pub(crate) is_final: bool,
    pub(crate) terminated_early: bool,
}

/// The window's bounds, ISO 8601 as Lambda sends them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Bounds {
    #[serde(default)]
    pub(crate) start: String,
    #[serde(default)]
    pub(crate) end: String,
}

impl WindowFields<'_> {
    /// The incoming state, `None` when it is absent, `null` or `{}` (a window's start).
    pub(crate) fn incoming_state(&self) -> Option<&RawValue> {
        self.state.filter(|raw| {
            let text: String = raw.get().chars().filter(|c| !c.is_ascii_whitespace()).collect();
            text != "{}" && text != "null"
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::value::RawValue;

    use super::WindowFields;

    #[test]
    fn an_empty_or_null_state_is_the_start_of_a_window() {
        for (state, expected) in [("{}", None), ("{ \n }", None), ("null", None), (r#"{"n":1}"#, Some(r#"{"n":1}"#))] {
            let raw: Option<Box<RawValue>> = serde_json::from_str(state).ok();
            let fields = WindowFields { state: raw.as_deref(), ..WindowFields::default() };
            assert_eq!(fields.incoming_state().map(RawValue::get), expected, "{state}");
        }
    }
}
