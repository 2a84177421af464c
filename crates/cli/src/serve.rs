//! `huiyuan serve`.

use huiyuan_server::app::tenancy::ADMIN_USERNAME;
use huiyuan_server::config::Settings;
use huiyuan_server::http::service::{build_app, serve};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    let grace = Duration::from_secs(settings.shutdown_grace_secs);
    tracing::info!(?settings, "starting");
    let opened = huiyuan_server::open(settings).await?;
    if let Some(password) = &opened.generated_admin_password {
        // Printed once, on first start; it is not stored anywhere in clear.
        println!(
            "Created tenant '{}' with admin account '{ADMIN_USERNAME}', password: {password}\n\
             (set HUIYUAN_ADMIN_PASSWORD before the first start to choose it; this is the only time it is shown)",
            opened.default_tenant.slug.as_str()
        );
    }
    let listener = TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, database = opened.state.store.backend_name(), "listening");
    let workers = huiyuan_server::workers::spawn(opened.state.clone());
    let store = opened.state.store.clone();
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let app = build_app(opened.state);
    let server = tokio::spawn(serve(listener, app, async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    }));
    shutdown_signal().await;
    tracing::info!(
        grace_secs = grace.as_secs(),
        "shutting down: draining requests in flight"
    );
    let _ = stop_tx.send(true);
    workers.abort();
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined??,
        Err(_) => tracing::warn!("requests still running after the grace period; stopping anyway"),
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
