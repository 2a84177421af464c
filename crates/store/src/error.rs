use thiserror::Error;

/// What can go wrong below the domain. Database text never leaves the server: the HTTP layer maps
/// `Database` to a bare 500 and logs the cause.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique constraint refused the write; `constraint` names it where the database says so
    /// (PostgreSQL), or lists the columns (SQLite).
    #[error("unique constraint violated: {constraint}")]
    Conflict { constraint: String },
    /// A referenced row does not exist (foreign key).
    #[error("referenced record does not exist")]
    MissingReference,
    /// The database gave up on this transaction to resolve a conflict with another (a deadlock
    /// or a serialisation failure): nothing was written, and a retry will succeed.
    #[error("concurrent transactions conflicted; retry")]
    Retry,
    /// Stored data no longer parses (a bug or a manual edit).
    #[error("corrupt stored value in {0}")]
    Corrupt(&'static str),
    #[error(transparent)]
    Database(sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    let constraint = db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| db.message().to_owned());
                    return StoreError::Conflict { constraint };
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => return StoreError::MissingReference,
                _ => {}
            }
            // PostgreSQL: deadlock_detected, serialization_failure.
            if matches!(db.code().as_deref(), Some("40P01" | "40001")) {
                return StoreError::Retry;
            }
        }
        StoreError::Database(error)
    }
}

impl StoreError {
    /// Whether the database could not be reached in time (pool exhausted or closed): a 503, not a bug.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }

    /// Whether this conflict came from the named unique key. SQLite reports columns rather than
    /// names, so each key is also recognised by its columns.
    pub fn is_conflict_on(&self, name: &str, sqlite_columns: &str) -> bool {
        matches!(self, StoreError::Conflict { constraint } if constraint == name || constraint.ends_with(sqlite_columns))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
