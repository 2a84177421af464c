//! Group commit on SQLite: several changes share one database transaction, each in a savepoint of
//! its own.
//!
//! SQLite has one writer, so changes run one after the other anyway. What each paid for alone was
//! its `BEGIN` and `COMMIT` (two hand-offs to sqlx's worker thread) and the commit's WAL writes,
//! which copy every page the change dirtied — the same index and balance pages again and again
//! when changes come in quick succession. In a group, the transaction begins once, each change
//! runs between `SAVEPOINT` and `RELEASE` (sent with its last queued writes, no extra hand-off),
//! and one `COMMIT` writes each dirtied page once.
//!
//! A change that fails is rolled back to its savepoint and leaves the others alone. Nothing a
//! change wrote is durable until [`WriteGroup::commit`]: whoever runs the group answers the
//! changes' callers only after it (see the server's writer lane).

use crate::backend::{Conn, Session, Store};
use crate::error::{StoreError, StoreResult};
use sqlx::{Sqlite, Transaction};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The savepoint every change of a group runs in (the name is reused: each change releases it
/// and opens the next one in the same call).
const SAVEPOINT: &str = "SAVEPOINT huiyuan_change";
/// The group's start and its first savepoint, in one call (sqlx runs a custom begin whole).
const BEGIN: &str = "BEGIN IMMEDIATE; SAVEPOINT huiyuan_change";
const RELEASE: &str = "RELEASE huiyuan_change";
const ROLLBACK: &str = "ROLLBACK TO huiyuan_change";

/// An open group: the transaction, lent to one change at a time.
pub struct WriteGroup {
    tx: Arc<Mutex<Transaction<'static, Sqlite>>>,
    /// Set by the change's [`Session::commit`]; a change that ends without it is rolled back.
    released: Arc<AtomicBool>,
    changes: usize,
}

/// The group's transaction while one change holds it.
pub(crate) struct SharedTx {
    pub(crate) tx: OwnedMutexGuard<Transaction<'static, Sqlite>>,
    released: Arc<AtomicBool>,
}

impl SharedTx {
    /// What the change's commit sends after its queued writes: keep the change, open the next
    /// savepoint.
    pub(crate) const RELEASE_AND_REOPEN: [&'static str; 2] = [RELEASE, SAVEPOINT];

    /// The change is kept (its savepoint released).
    pub(crate) fn mark_released(&self) {
        self.released.store(true, Ordering::Release);
    }
}

impl WriteGroup {
    /// Takes the writer and begins a group; `None` on PostgreSQL, whose writers run side by side.
    pub async fn begin(store: &Store) -> StoreResult<Option<Self>> {
        let Some(writer) = store.sqlite_writer() else {
            return Ok(None);
        };
        let tx = writer.begin_with(BEGIN).await?;
        Ok(Some(Self {
            tx: Arc::new(Mutex::new(tx)),
            released: Arc::new(AtomicBool::new(false)),
            changes: 0,
        }))
    }

    /// The session for the next change: it writes in the group's transaction, inside the open
    /// savepoint. Call [`WriteGroup::settle`] once the session is gone.
    pub async fn session(&self) -> Session {
        self.released.store(false, Ordering::Release);
        let tx = self.tx.clone().lock_owned().await;
        Session::new(Conn::SqliteShared(SharedTx {
            tx,
            released: self.released.clone(),
        }))
    }

    /// After a change: one that did not commit its session (it failed, or answered without
    /// writing) is rolled back to its savepoint, which stays open for the next change. An error
    /// here leaves the group unusable: roll it back by dropping it.
    pub async fn settle(&mut self) -> StoreResult<()> {
        let mut tx = self.tx.lock().await;
        if self.released.load(Ordering::Acquire) {
            self.changes += 1;
        } else {
            sqlx::query(ROLLBACK).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// How many changes the group keeps so far.
    pub fn changes(&self) -> usize {
        self.changes
    }

    /// Commits every kept change at once.
    pub async fn commit(self) -> StoreResult<()> {
        let tx = Arc::try_unwrap(self.tx)
            .map_err(|_| {
                StoreError::Database(sqlx::Error::Protocol(
                    "a change still holds the group's transaction".to_owned(),
                ))
            })?
            .into_inner();
        tx.commit().await?;
        Ok(())
    }
}
