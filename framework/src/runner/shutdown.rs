//! Ctrl-C and SIGTERM as a future, for [`Runner::run`](super::Runner::run).

use std::future::Future;

/// A future that completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what container
/// platforms send before they stop a process). The signal handlers are installed when this
/// function is called, not when the future is first polled, so a signal that arrives while
/// the first batch runs is caught too; the moment it arrives a line says the runner is
/// stopping (the future itself completes when next polled). If a handler cannot be
/// installed, that signal is logged and ignored.
pub fn signal() -> impl Future<Output = ()> + Send {
    let (tell, told) = tokio::sync::oneshot::channel::<()>();
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        let listen = |kind: SignalKind, name: &'static str| match signal(kind) {
            Ok(stream) => Some((stream, name)),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for {name}");
                None
            }
        };
        [listen(SignalKind::interrupt(), "Ctrl-C"), listen(SignalKind::terminate(), "SIGTERM")]
    };
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            let [interrupt, terminate] = signals;
            let wait = |listener: Option<(tokio::signal::unix::Signal, &'static str)>| async move {
                match listener {
                    Some((mut stream, name)) => {
                        stream.recv().await;
                        name
                    }
                    None => std::future::pending().await,
                }
            };
            let name = tokio::select! {
                name = wait(interrupt) => name,
                name = wait(terminate) => name,
            };
            tracing::info!("{name}: stopping: no further record starts; records in flight finish (up to the shutdown timeout) and are checkpointed");
        }
        #[cfg(not(unix))]
        {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::info!("Ctrl-C: stopping: no further record starts; records in flight finish (up to the shutdown timeout) and are checkpointed");
        }
        let _ = tell.send(());
    });
    async move {
        if told.await.is_err() {
            // The listening task is gone (its runtime is shutting down): never complete.
            std::future::pending::<()>().await;
        }
    }
}
