//! What the routes of one invocation share: its deadline, its options, its counters, and
//! where handlers run.

use std::num::NonZeroUsize;
use std::sync::Arc;

use tokio::runtime::Handle;

use super::control::Control;
use super::progress::Progress;
use super::start_gate::StartGate;
use crate::metrics::Stats;

/// One invocation's shared state, handed to every route that processes its records.
pub(crate) struct Invocation {
    pub(crate) gate: StartGate,
    /// Per-key concurrency, when on.
    pub(crate) per_key: Option<NonZeroUsize>,
    pub(crate) stats: Stats,
    pub(crate) progress: Arc<Progress>,
    /// Its caller's hold on it (stop, abandon, progress).
    pub(crate) control: Control,
    /// The runtime handlers are polled in (`None`: the caller's).
    pub(crate) handlers: Option<Handle>,
}
