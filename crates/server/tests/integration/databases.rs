//! Fresh databases for test apps: a SQLite file in a temporary directory, or a PostgreSQL schema
//! with a random name that is dropped again when the test ends, even when it panics.

use crate::support::Backend;
use huiyuan_server::config::Settings;
use sqlx::{Connection, PgConnection};
use std::io::Write;
use std::time::Duration;
use tempfile::TempDir;

/// The PostgreSQL server used when `HUIYUAN_TEST_DATABASE_URL` is not set.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How long to wait for PostgreSQL before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a test app's data lives; dropping it removes the data.
pub enum Place {
    Sqlite { _dir: TempDir },
    Postgres { _schema: PgSchema },
}

impl Place {
    /// Creates an empty database and points `settings` at it. `None` (after a loud note on
    /// stderr) when PostgreSQL is unreachable and not required.
    pub async fn create(backend: Backend, settings: &mut Settings) -> Option<Place> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("create a temporary directory");
                settings.data_dir = dir.path().to_owned();
                Some(Place::Sqlite { _dir: dir })
            }
            Backend::Postgres => {
                let schema = PgSchema::create().await?;
                // The schema name doubles as application name, so cleanup finds our sessions.
                let separator = if schema.url.contains('?') { '&' } else { '?' };
                settings.database_url = Some(format!(
                    "{url}{separator}options=-csearch_path%3D{name}&application_name={name}",
                    url = schema.url,
                    name = schema.name
                ));
                Some(Place::Postgres { _schema: schema })
            }
        }
    }
}

fn postgres_url() -> String {
    std::env::var("HUIYUAN_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

fn postgres_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("HUIYUAN_REQUIRE_POSTGRES").is_ok_and(|value| value == "1")
}

/// A PostgreSQL schema that is dropped on drop.
pub struct PgSchema {
    url: String,
    name: String,
}

impl PgSchema {
    async fn create() -> Option<PgSchema> {
        let url = postgres_url();
        let mut admin =
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&url)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(error)) => return unreachable_postgres(&url, &error.to_string()),
                Err(_) => return unreachable_postgres(&url, "timed out"),
            };
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut admin)
            .await
            .expect("create a test schema");
        admin.close().await.ok();
        Some(PgSchema { url, name })
    }
}

fn unreachable_postgres(url: &str, reason: &str) -> Option<PgSchema> {
    let url = huiyuan_store::backend::redact_url(url);
    if postgres_required() {
        panic!(
            "PostgreSQL at {url} is unreachable ({reason}), and CI or HUIYUAN_REQUIRE_POSTGRES=1 requires it"
        );
    }
    // Straight to the stderr handle: the test harness captures `eprintln!`, and a skip must show.
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n*** SKIPPED: PostgreSQL unreachable at {url} ({reason}); set HUIYUAN_TEST_DATABASE_URL to run the \
         PostgreSQL half of this test ***\n"
    );
    None
}

impl Drop for PgSchema {
    /// Drop may run inside the test's runtime, or while a panic unwinds it, so the cleanup gets
    /// its own thread and runtime. Sessions still open (a panicking test's server holds a pool)
    /// are terminated first, so the `DROP` cannot wait on their locks.
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let cleanup = std::thread::spawn(move || -> Result<(), sqlx::Error> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&url).await?;
                sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut conn)
                    .await?;
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&name)
                .execute(&mut conn)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await
            })
        });
        match cleanup.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                eprintln!("warning: could not drop test schema {}: {error}", self.name)
            }
            Err(_) => eprintln!("warning: dropping test schema {} panicked", self.name),
        }
    }
}
