//! Whether the invocation being processed is a redrive: records a failure destination kept,
//! run again by an operator, possibly long after they were first delivered. What remembers
//! "already done" for a limited time (the claims of `Idempotency`) reads it, to refuse
//! records it may have forgotten.

use std::cell::Cell;

/// How a redrive treats records whose "already done" may have been forgotten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Redrive {
    /// Run them anyway: the operator accepts that an effect may run again.
    pub(crate) force: bool,
}

thread_local! {
    static REDRIVE: Cell<Option<Redrive>> = const { Cell::new(None) };
}

/// Runs `poll` with `redrive` readable through [`current`] on this thread.
pub(crate) fn with<T>(redrive: Option<Redrive>, poll: impl FnOnce() -> T) -> T {
    let outer = REDRIVE.with(|cell| cell.replace(redrive));
    let result = poll();
    REDRIVE.with(|cell| cell.set(outer));
    result
}

/// The redrive whose handler is being polled on this thread; `None` outside a handler or
/// when the invocation is not a redrive. Tasks a handler spawns do not see it.
// Read by `Idempotency` (feature `dynamodb`), set by the redrive (feature `redrive`).
#[cfg_attr(not(feature = "dynamodb"), allow(dead_code))]
pub(crate) fn current() -> Option<Redrive> {
    REDRIVE.with(Cell::get)
}
