//! Ctrl-C and SIGTERM as a future, for [`Runner::run`](super::Runner::run).

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM (what container platforms send
/// before they stop a process). If a signal handler cannot be installed, that signal is
/// logged and ignored.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: stopping after the batch in flight"),
        () = terminate => tracing::info!("SIGTERM: stopping after the batch in flight"),
    }
}
