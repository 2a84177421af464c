//! SQLite WAL checkpoints off the write path.
//!
//! By default the connection whose commit takes the WAL past 1,000 pages copies the WAL into the
//! database file and syncs it, inside that commit — with group commit, while every change of the
//! group and every change queued behind it waits for its answer. The writer is told never to
//! checkpoint; a connection of its own copies what the writer committed every
//! [`INTERVAL`], on another thread, while the writer goes on (a passive checkpoint takes no lock
//! the writer needs).

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the WAL is copied into the database: often enough that the WAL stays a few MiB at
/// the write rates one SQLite file takes.
const INTERVAL: Duration = Duration::from_millis(250);

/// Keeps the checkpointer running: it stops once every clone of its [`crate::Store`] is gone or
/// the store is closed.
pub(crate) struct Checkpointer {
    closed: AtomicBool,
}

impl Checkpointer {
    /// Opens the checkpointer's connection and starts its loop on the current runtime.
    pub(crate) async fn start(options: &SqliteConnectOptions) -> sqlx::Result<Arc<Self>> {
        let mut connection = options.connect().await?;
        let checkpointer = Arc::new(Self {
            closed: AtomicBool::new(false),
        });
        let watched = Arc::downgrade(&checkpointer);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if !Self::wanted(&watched) {
                    break;
                }
                checkpoint(&mut connection).await;
            }
            connection.close().await.ok();
        });
        Ok(checkpointer)
    }

    /// Stops the loop at its next tick.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn wanted(watched: &Weak<Self>) -> bool {
        watched
            .upgrade()
            .is_some_and(|this| !this.closed.load(Ordering::Acquire))
    }
}

/// Copies what it can without waiting for anyone; what readers still use is copied next time.
async fn checkpoint(connection: &mut SqliteConnection) {
    if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(&mut *connection)
        .await
    {
        tracing::warn!(%error, "WAL checkpoint failed; retried at the next interval");
    }
}

#[cfg(test)]
mod tests {
    use crate::backend::SQLITE_FILE;
    use crate::{DatabaseSettings, Store, on_backend};

    /// The writer never checkpoints, so only the checkpointer can move committed pages from the
    /// WAL into the database file.
    #[tokio::test]
    async fn committed_pages_reach_the_database_file_without_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::connect(&DatabaseSettings::sqlite(dir.path()))
            .await
            .unwrap();
        let file = dir.path().join(SQLITE_FILE);
        let mut s = store.write().await.unwrap();
        on_backend!(s, c => sqlx::query(
            "CREATE TABLE filler (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
            .execute(&mut *c).await.map(|_| ()))
        .unwrap();
        on_backend!(s, c => sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
             INSERT INTO filler (id, payload) SELECT i, randomblob(1000) FROM n")
            .execute(&mut *c).await.map(|_| ()))
        .unwrap();
        s.commit().await.unwrap();
        let before = std::fs::metadata(&file).unwrap().len();
        let mut after = before;
        for _ in 0..40 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            after = std::fs::metadata(&file).unwrap().len();
            if after > before + 1_000_000 {
                break;
            }
        }
        assert!(
            after > before + 1_000_000,
            "2 MB committed, database file {before} → {after} bytes"
        );
        store.close().await;
    }
}
