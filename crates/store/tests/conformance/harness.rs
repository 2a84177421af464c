//! A fresh database per test: a SQLite file in a temporary directory, or a PostgreSQL schema with
//! a random name that is dropped again when the test ends, even when it panics.

use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_store::{DatabaseSettings, Session, Store, StoreResult};
use sqlx::{Connection, PgConnection};
use std::future::Future;
use std::io::Write;
use std::time::Duration;
use tempfile::TempDir;

/// The PostgreSQL server the suite uses when `HUIYUAN_TEST_DATABASE_URL` is not set.
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How long to wait for PostgreSQL before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Generates, for each `async fn name(db: TestDb)` of the calling module, `mod name` with one
/// `#[tokio::test]` per database.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(crate::harness::TestDb::sqlite().await).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = crate::harness::TestDb::postgres().await {
                    super::$name(db).await;
                }
            }
        }
    )+};
}

/// One migrated, empty database.
pub struct TestDb {
    // Declared first so the pools are gone before the directory or schema goes.
    store: Store,
    place: Place,
}

enum Place {
    Sqlite { _dir: TempDir },
    Postgres(PgSchema),
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let store = Store::connect(&DatabaseSettings::sqlite(dir.path()))
            .await
            .expect("open SQLite");
        store.migrate().await.expect("migrate SQLite");
        TestDb {
            store,
            place: Place::Sqlite { _dir: dir },
        }
    }

    /// `None` (after a loud note on stderr) when PostgreSQL is unreachable and not required.
    pub async fn postgres() -> Option<TestDb> {
        let url = postgres_url();
        let mut admin =
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&url)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(error)) => return unreachable_postgres(&url, &error.to_string()),
                Err(_) => return unreachable_postgres(&url, "timed out"),
            };
        let schema = PgSchema {
            url: url.clone(),
            name: format!("t_{}", uuid::Uuid::new_v4().simple()),
        };
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA {}",
            schema.name
        )))
        .execute(&mut admin)
        .await
        .expect("create a test schema");
        admin.close().await.ok();

        // The schema name doubles as application name, so cleanup can find this pool's sessions.
        let separator = if url.contains('?') { '&' } else { '?' };
        let settings = DatabaseSettings {
            url: Some(format!(
                "{url}{separator}options=-csearch_path%3D{0}&application_name={0}",
                schema.name
            )),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(10),
            ..DatabaseSettings::default()
        };
        let store = Store::connect(&settings)
            .await
            .expect("connect to PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        Some(TestDb {
            store,
            place: Place::Postgres(schema),
        })
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend_name()
    }

    /// The PostgreSQL schema holding this database's tables.
    pub fn pg_schema(&self) -> Option<&str> {
        match &self.place {
            Place::Postgres(schema) => Some(&schema.name),
            Place::Sqlite { .. } => None,
        }
    }

    pub async fn read(&self) -> Session {
        self.store.read().await.expect("open a read session")
    }

    pub async fn write(&self) -> Session {
        self.store.write().await.expect("open a write transaction")
    }
}

fn postgres_url() -> String {
    std::env::var("HUIYUAN_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

fn postgres_required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("HUIYUAN_REQUIRE_POSTGRES").is_ok_and(|value| value == "1")
}

fn unreachable_postgres(url: &str, reason: &str) -> Option<TestDb> {
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

/// A schema that is dropped on drop.
struct PgSchema {
    url: String,
    name: String,
}

impl Drop for PgSchema {
    /// Drop may run inside the test's runtime, or while a panic unwinds it, so the cleanup gets
    /// its own thread and runtime. Sessions the test left open (a transaction abandoned by a
    /// panic holds locks) are terminated first so the `DROP` cannot wait on them.
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

/// Follows `next_cursor` from the first page to the last with pages of `limit`, checking each
/// page's size, and returns every item in the order served.
pub async fn walk_pages<T, F, Fut>(limit: u32, mut fetch: F) -> Vec<T>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = StoreResult<Page<T>>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1_000 {
        let request =
            PageRequest::parse(Some(limit), cursor.as_deref()).expect("a valid page request");
        let page = fetch(request).await.expect("list a page");
        assert!(
            page.items.len() <= limit as usize,
            "a page holds at most its limit"
        );
        let full = page.items.len() == limit as usize;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => {
                assert!(full, "only a full page announces another");
                cursor = Some(next);
            }
            None => return items,
        }
    }
    panic!("pagination did not end after 1000 pages");
}

/// Asserts two values serialise identically (the domain types compare by their JSON form).
#[track_caller]
pub fn assert_same<T: serde::Serialize + std::fmt::Debug>(actual: &T, expected: &T) {
    let (a, e) = (
        serde_json::to_value(actual).unwrap(),
        serde_json::to_value(expected).unwrap(),
    );
    assert_eq!(a, e, "\nactual:   {actual:?}\nexpected: {expected:?}");
}

/// The cleanup holds even when a test panics inside a write transaction, whose locks would
/// otherwise make `DROP SCHEMA` wait.
#[tokio::test]
async fn a_panicking_test_leaves_no_schema_behind() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let schema = db.pg_schema().expect("a schema").to_owned();
    let test = tokio::spawn(async move {
        let mut s = db.write().await;
        let tenant = crate::fixtures::tenant(&crate::fixtures::unique_slug("doomed"));
        huiyuan_store::tenants::insert(&mut s, &tenant)
            .await
            .unwrap();
        panic!("a deliberate panic, to check that its schema is dropped");
    });
    assert!(test.await.expect_err("the task panics").is_panic());

    let mut conn = PgConnection::connect(&postgres_url()).await.unwrap();
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
        .bind(&schema)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "schema {schema} was left behind");
}
