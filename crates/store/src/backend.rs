//! The two databases behind one type. SQLite gets a single writer connection (writes queue in the
//! pool instead of failing with "database is locked") and a small pool of read-only connections,
//! which WAL lets read while the writer writes. PostgreSQL gets one ordinary pool.

use crate::deferred::{Queue, Write};
use crate::error::StoreResult;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Postgres, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How much of the SQLite file each connection maps into memory (address space, not RAM).
const MMAP_BYTES: u64 = 1 << 30;

/// File name of the embedded database inside the data directory.
pub const SQLITE_FILE: &str = "huiyuan.db";

/// How the thread sqlx runs a SQLite writer connection on is named: this and sqlx's connection
/// number, unique in the process and within the kernel's 15 bytes for a million connections.
const SQLITE_WRITER_THREAD_PREFIX: &str = "hy-sqlw-";

/// Where the data lives. `url` set to `postgres://…` selects PostgreSQL; otherwise SQLite under
/// `data_dir` (or at a `sqlite:` url).
#[derive(Clone)]
pub struct DatabaseSettings {
    pub url: Option<String>,
    pub data_dir: PathBuf,
    /// PostgreSQL pool size; SQLite always has one writer and `sqlite_readers` readers.
    pub max_connections: u32,
    pub sqlite_readers: u32,
    /// How long a request may wait for a connection before it fails.
    pub acquire_timeout: Duration,
}

impl DatabaseSettings {
    pub fn sqlite(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            url: None,
            data_dir: data_dir.into(),
            ..Self::default()
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.as_deref().is_some_and(is_postgres_url)
    }
}

/// Whether a database URL names PostgreSQL; any other selects SQLite.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: None,
            data_dir: PathBuf::from("huiyuan-data"),
            max_connections: 16,
            sqlite_readers: 8,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// Never prints a password that a database URL carries.
impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("data_dir", &self.data_dir)
            .field("max_connections", &self.max_connections)
            .field("sqlite_readers", &self.sqlite_readers)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[derive(Clone)]
enum Pools {
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
        /// See [`Store::sqlite_writer_thread`].
        writer_thread: Arc<Mutex<String>>,
    },
    Postgres(PgPool),
}

/// The storage handle the server keeps; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
}

impl Store {
    pub async fn connect(settings: &DatabaseSettings) -> StoreResult<Self> {
        let pools = match &settings.url {
            Some(url) if settings.is_postgres() => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(options)
                    .await?;
                Pools::Postgres(pool)
            }
            url => {
                let options = match url {
                    Some(url) => SqliteConnectOptions::from_str(url)?,
                    None => {
                        std::fs::create_dir_all(&settings.data_dir)
                            .map_err(|error| sqlx::Error::Configuration(Box::new(error)))?;
                        SqliteConnectOptions::new().filename(settings.data_dir.join(SQLITE_FILE))
                    }
                };
                let options = options
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // Readers map the file instead of copying pages into their own caches: a
                    // write makes every reader drop its cache at its next read, and with
                    // memory-mapped pages the refill is no system calls and no copies.
                    .pragma("mmap_size", MMAP_BYTES.to_string())
                    // Savepoints (each change of a write group has one) copy the pages they
                    // first touch into a sub-journal: kept in memory, not in a temporary file.
                    .pragma("temp_store", "memory");
                // One writer: SQLite allows one anyway, and queueing in the pool is fair and
                // never surfaces SQLITE_BUSY to a client.
                // Kept for the life of the store: the server keeps its thread on one CPU with
                // the writer lane, and finds it by the name recorded here.
                let writer_thread = Arc::new(Mutex::new(String::new()));
                let naming = writer_thread.clone();
                let writer = SqlitePoolOptions::new()
                    .max_connections(1)
                    .max_lifetime(None)
                    .idle_timeout(None)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(options.clone().thread_name(move |id| {
                        let name = format!("{SQLITE_WRITER_THREAD_PREFIX}{id}");
                        if let Ok(mut named) = naming.lock() {
                            named.clone_from(&name);
                        }
                        name
                    }))
                    .await?;
                let reader = SqlitePoolOptions::new()
                    .max_connections(settings.sqlite_readers.max(1))
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(options.read_only(true))
                    .await?;
                Pools::Sqlite {
                    writer,
                    reader,
                    writer_thread,
                }
            }
        };
        Ok(Self { pools })
    }

    /// Applies pending migrations of this database's migration tree.
    pub async fn migrate(&self) -> StoreResult<()> {
        match &self.pools {
            Pools::Sqlite { writer, .. } => {
                sqlx::migrate!("./migrations/sqlite").run(writer).await?
            }
            Pools::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn backend_name(&self) -> &'static str {
        match self.pools {
            Pools::Sqlite { .. } => "sqlite",
            Pools::Postgres(_) => "postgres",
        }
    }

    /// The name of the thread running the SQLite writer connection (the newest, should the pool
    /// have replaced it); `None` on PostgreSQL.
    pub fn sqlite_writer_thread(&self) -> Option<String> {
        match &self.pools {
            Pools::Sqlite { writer_thread, .. } => {
                writer_thread.lock().ok().map(|name| name.clone())
            }
            Pools::Postgres(_) => None,
        }
    }

    /// The SQLite writer pool, for a [`crate::write_group::WriteGroup`]; `None` on PostgreSQL.
    pub(crate) fn sqlite_writer(&self) -> Option<&SqlitePool> {
        match &self.pools {
            Pools::Sqlite { writer, .. } => Some(writer),
            Pools::Postgres(_) => None,
        }
    }

    /// A read-only session (no transaction).
    pub async fn read(&self) -> StoreResult<Session> {
        let conn = match &self.pools {
            Pools::Sqlite { reader, .. } => Conn::SqliteRead(reader.acquire().await?),
            Pools::Postgres(pool) => Conn::PgRead(pool.acquire().await?),
        };
        Ok(Session::new(conn))
    }

    /// A write transaction; dropped without [`Session::commit`] it rolls back.
    pub async fn write(&self) -> StoreResult<Session> {
        let conn = match &self.pools {
            // IMMEDIATE takes the write lock up front, so a transaction never fails half-way
            // when it first writes.
            Pools::Sqlite { writer, .. } => {
                Conn::SqliteTx(writer.begin_with("BEGIN IMMEDIATE").await?)
            }
            Pools::Postgres(pool) => Conn::PgTx(pool.begin().await?),
        };
        Ok(Session::new(conn))
    }

    /// Whether the database answers, for readiness checks.
    pub async fn ping(&self) -> StoreResult<()> {
        let mut session = self.read().await?;
        on_backend!(session, c => sqlx::query("SELECT 1").execute(&mut *c).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { writer, reader, .. } => {
                reader.close().await;
                writer.close().await;
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

pub(crate) enum Conn {
    SqliteTx(Transaction<'static, Sqlite>),
    /// One change of a [`crate::write_group::WriteGroup`].
    SqliteShared(crate::write_group::SharedTx),
    PgTx(Transaction<'static, Postgres>),
    SqliteRead(PoolConnection<Sqlite>),
    PgRead(PoolConnection<Postgres>),
}

/// A connection to either database: a read connection or a write transaction.
pub struct Session {
    conn: Conn,
    /// Writes queued by [`Session::defer`], sent before the next statement or at commit.
    deferred: Queue,
}

/// The concrete connection under a session, for [`on_backend!`].
pub enum Backend<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

impl Session {
    pub(crate) fn new(conn: Conn) -> Self {
        Self {
            conn,
            deferred: Queue::default(),
        }
    }

    /// Queues a write whose outcome nobody reads (see [`crate::deferred`]). It runs before this
    /// session's next statement or at commit, and an error it raises fails that statement or
    /// the commit.
    pub fn defer(&mut self, write: Write) {
        self.deferred.push(write);
    }

    /// Sends the queued writes, if any, in one round trip. [`Session::backend`] (and so
    /// [`on_backend!`]) calls this before every statement.
    pub async fn flush_deferred(&mut self) -> sqlx::Result<()> {
        if self.deferred.is_empty() {
            return Ok(());
        }
        match &mut self.conn {
            Conn::SqliteTx(tx) => self.deferred.flush_sqlite(tx, &[]).await,
            Conn::SqliteShared(shared) => self.deferred.flush_sqlite(&mut shared.tx, &[]).await,
            Conn::SqliteRead(conn) => self.deferred.flush_sqlite(conn, &[]).await,
            Conn::PgTx(tx) => self.deferred.flush_postgres(tx).await,
            Conn::PgRead(conn) => self.deferred.flush_postgres(conn).await,
        }
    }

    /// The connection, for a statement, once the queued writes are sent: a statement never runs
    /// ahead of the writes queued before it. [`on_backend!`] is the usual way in; this is for
    /// statements of one database only, or several on one connection.
    pub async fn backend(&mut self) -> sqlx::Result<Backend<'_>> {
        self.flush_deferred().await?;
        Ok(self.raw_backend())
    }

    /// The connection as it is, queued writes or not: only for [`Session::backend`].
    fn raw_backend(&mut self) -> Backend<'_> {
        match &mut self.conn {
            Conn::SqliteTx(tx) => Backend::Sqlite(tx),
            Conn::SqliteShared(shared) => Backend::Sqlite(&mut shared.tx),
            Conn::PgTx(tx) => Backend::Postgres(tx),
            Conn::SqliteRead(conn) => Backend::Sqlite(conn),
            Conn::PgRead(conn) => Backend::Postgres(conn),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.conn, Conn::PgTx(_) | Conn::PgRead(_))
    }

    /// Commits a write transaction; a read session just returns its connection. A change of a
    /// [`crate::write_group::WriteGroup`] releases its savepoint with its last queued writes; the
    /// group commits it later.
    pub async fn commit(mut self) -> StoreResult<()> {
        match &mut self.conn {
            // Sent with the last queued writes: no extra hand-off to the writer's thread.
            Conn::SqliteShared(shared) => {
                self.deferred
                    .flush_sqlite(
                        &mut shared.tx,
                        &crate::write_group::SharedTx::RELEASE_AND_REOPEN,
                    )
                    .await?
            }
            _ => self.flush_deferred().await?,
        }
        match self.conn {
            Conn::SqliteTx(tx) => tx.commit().await?,
            Conn::SqliteShared(shared) => shared.mark_released(),
            Conn::PgTx(tx) => tx.commit().await?,
            Conn::SqliteRead(_) | Conn::PgRead(_) => {}
        }
        Ok(())
    }
}

/// Runs one expression against whichever database the session holds: `$c` is a
/// `&mut SqliteConnection` in one arm and a `&mut PgConnection` in the other, so the same SQL
/// (with `$1` placeholders) and the same row types serve both. Writes the session deferred are
/// sent first; the expression evaluates to a `Result<_, sqlx::Error>`.
#[macro_export]
macro_rules! on_backend {
    ($session:expr, $c:ident => $body:expr) => {
        match $session.backend().await {
            Err(error) => Err(error),
            Ok($crate::backend::Backend::Sqlite($c)) => $body,
            Ok($crate::backend::Backend::Postgres($c)) => $body,
        }
    };
}
pub use on_backend;

#[cfg(test)]
mod tests {
    use super::{DatabaseSettings, redact_url};

    #[test]
    fn urls_with_passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/huiyuan"),
            "postgres://app:***@db:5432/huiyuan"
        );
        assert_eq!(
            redact_url("postgres://app@db/huiyuan"),
            "postgres://app@db/huiyuan"
        );
        let settings = DatabaseSettings {
            url: Some("postgres://a:pw@h/d".into()),
            ..DatabaseSettings::default()
        };
        assert!(!format!("{settings:?}").contains("pw"));
    }
}
