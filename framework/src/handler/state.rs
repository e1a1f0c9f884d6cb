//! Shared state: registered once on the router, handed to each handler that asks for it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

/// The router's state of type `S`, as a handler's first argument:
/// `async fn on_like(State(db): State<Db>, change: Change<Like>)`. Register it with
/// [`Router::with_state`](crate::Router::with_state) before the routes that use it; each
/// call gets a clone (make `S` cheap to clone: SDK clients are, or wrap it in an `Arc`).
#[derive(Clone, Copy, Debug, Default)]
pub struct State<S>(pub S);

/// The states registered on a router, by type. Public only so that the route traits can take
/// it; nothing outside the crate can name or make one.
#[derive(Clone, Default)]
pub struct States(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl States {
    pub(crate) fn insert<S: Clone + Send + Sync + 'static>(&mut self, state: S) {
        self.0.insert(TypeId::of::<S>(), Arc::new(state));
    }

    pub(crate) fn get<S: Clone + 'static>(&self) -> Option<S> {
        self.0.get(&TypeId::of::<S>()).and_then(|state| state.downcast_ref::<S>()).cloned()
    }

    /// The state a route's handler takes, at registration.
    ///
    /// # Panics
    /// If the router has no state of that type, naming it.
    #[track_caller]
    pub(crate) fn require<S: Clone + 'static>(&self) -> S {
        self.get::<S>().unwrap_or_else(|| {
            panic!(
                "this route's handler takes State<{0}>, and the router has none: call \
                 Router::with_state(<{0}>) before registering it",
                std::any::type_name::<S>()
            )
        })
    }
}
