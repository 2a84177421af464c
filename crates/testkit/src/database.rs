//! [`TestDatabase`]: one test's own migrated, empty database on either backend.

use crate::postgres::PgDatabase;
use crate::sqlite::SqliteDatabase;
use huiyuan_store::DatabaseSettings;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that goes on drop (a SQLite file is deleted, a PostgreSQL database
/// goes back to its pool): drop it after everything using it.
pub enum TestDatabase {
    Sqlite(SqliteDatabase),
    Postgres(PgDatabase),
}

impl TestDatabase {
    /// `None` (after a loud note on stderr) when PostgreSQL is unreachable and not required.
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(TestDatabase::Sqlite(SqliteDatabase::create())),
            Backend::Postgres => PgDatabase::create().await.map(TestDatabase::Postgres),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            TestDatabase::Sqlite(_) => Backend::Sqlite,
            TestDatabase::Postgres(_) => Backend::Postgres,
        }
    }

    /// Store settings pointing at this database, the rest at their defaults.
    pub fn settings(&self) -> DatabaseSettings {
        match self {
            TestDatabase::Sqlite(database) => DatabaseSettings::sqlite(database.data_dir()),
            TestDatabase::Postgres(database) => DatabaseSettings {
                url: Some(database.url()),
                ..DatabaseSettings::default()
            },
        }
    }

    /// The SQLite data directory; `None` on PostgreSQL.
    pub fn data_dir(&self) -> Option<&Path> {
        match self {
            TestDatabase::Sqlite(database) => Some(database.data_dir()),
            TestDatabase::Postgres(_) => None,
        }
    }

    /// The PostgreSQL connection URL; `None` on SQLite.
    pub fn url(&self) -> Option<String> {
        match self {
            TestDatabase::Sqlite(_) => None,
            TestDatabase::Postgres(database) => Some(database.url()),
        }
    }

    /// The PostgreSQL database's name; `None` on SQLite.
    pub fn pg_database(&self) -> Option<&str> {
        match self {
            TestDatabase::Sqlite(_) => None,
            TestDatabase::Postgres(database) => Some(database.name()),
        }
    }
}
