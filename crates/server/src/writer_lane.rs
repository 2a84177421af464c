//! A thread of its own for SQLite write transactions (every [`crate::mutation`] runs there).
//!
//! SQLite has one writer connection, and a transaction holds it from `BEGIN` to `COMMIT`. Each
//! statement is a hand-off to sqlx's worker thread and back; on the shared runtime the task that
//! holds the writer is woken into a queue behind every HTTP request in flight, so the writer sits
//! idle between statements and the next transaction waits. Running the transaction on a
//! single-threaded runtime that does nothing else puts the holder back to work as soon as its
//! statement is done. PostgreSQL connections have many writers and their sockets belong to the
//! main runtime's reactor, so there the work runs where it was called.

use crate::error::{ApiError, ApiResult};
use axum::response::Response;
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;
use tracing::Instrument;

/// Where write transactions run; cheap to clone. The thread ends when the last clone goes.
#[derive(Clone)]
pub struct WriterLane {
    /// `None`: run in place (PostgreSQL, or the thread could not start).
    handle: Option<Handle>,
    /// Dropped with the last clone, which lets the thread finish.
    _stop: Option<Arc<oneshot::Sender<()>>>,
}

impl WriterLane {
    /// A lane on its own thread for SQLite; in place for PostgreSQL.
    pub fn new(sqlite: bool) -> Self {
        let in_place = Self {
            handle: None,
            _stop: None,
        };
        if !sqlite {
            return in_place;
        }
        let runtime = match Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                tracing::warn!(%error, "no writer lane; write transactions run on the main runtime");
                return in_place;
            }
        };
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let started = std::thread::Builder::new()
            .name("huiyuan-writer".to_owned())
            // Drives what is spawned until every clone of the lane is gone.
            .spawn(move || runtime.block_on(async move { stopped.await.ok() }));
        match started {
            Ok(_) => Self {
                handle: Some(handle),
                _stop: Some(Arc::new(stop)),
            },
            Err(error) => {
                tracing::warn!(%error, "no writer lane; write transactions run on the main runtime");
                in_place
            }
        }
    }

    /// Runs `work` (a whole write transaction) on the lane and answers with its result.
    pub async fn run<F>(&self, work: F) -> ApiResult<Response>
    where
        F: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        match &self.handle {
            // In the caller's span, so what the transaction logs keeps the request's fields.
            Some(handle) => handle
                .spawn(work.in_current_span())
                .await
                .map_err(ApiError::internal)?,
            None => work.await,
        }
    }
}
