//! A fresh database per test (see `huiyuan_testkit`): a copy of a migrated SQLite template in a
//! temporary directory, or an emptied PostgreSQL database from a pool of copies of a migrated
//! template, given back when the test ends, even when it panics.

use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_store::{Session, Store, StoreResult};
use huiyuan_testkit::{Backend, TestDatabase};
use sqlx::{Connection, PgConnection};
use std::future::Future;
use std::time::Duration;

/// For each `async fn name(db: TestDb)` of the calling module, `mod name` with one
/// `#[tokio::test]` per database (see `huiyuan_testkit::on_both!`).
macro_rules! on_both {
    ($($tests:tt)+) => {
        huiyuan_testkit::on_both!(crate::harness::run; $($tests)+);
    };
}

/// Opens a store on a fresh `backend` database (or skips when PostgreSQL is unreachable and not
/// required) and runs the test on it.
pub async fn run(backend: Backend, test: impl AsyncFnOnce(TestDb)) {
    if let Some(db) = TestDb::open(backend).await {
        test(db).await;
    }
}

/// One migrated, empty database and a store over it.
pub struct TestDb {
    // Declared first so the pools are gone before the database goes.
    store: Store,
    database: TestDatabase,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        Self::open(Backend::Sqlite)
            .await
            .expect("SQLite is always there")
    }

    /// `None` (after a loud note on stderr) when PostgreSQL is unreachable and not required.
    pub async fn postgres() -> Option<TestDb> {
        Self::open(Backend::Postgres).await
    }

    async fn open(backend: Backend) -> Option<TestDb> {
        let database = TestDatabase::create(backend).await?;
        let mut settings = database.settings();
        if backend == Backend::Postgres {
            settings.max_connections = 4;
            settings.acquire_timeout = Duration::from_secs(10);
        }
        let store = Store::connect(&settings).await.expect("open the database");
        // A no-op on the template's copy; kept so the suite runs what the server runs.
        store.migrate().await.expect("migrate the database");
        Some(TestDb { store, database })
    }

    pub fn backend(&self) -> &'static str {
        self.store.backend_name()
    }

    /// The PostgreSQL schema holding this database's tables.
    pub fn pg_schema(&self) -> Option<&str> {
        self.database.pg_database().map(|_| "public")
    }

    pub async fn read(&self) -> Session {
        self.store.read().await.expect("open a read session")
    }

    pub async fn write(&self) -> Session {
        self.store.write().await.expect("open a write transaction")
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

/// The cleanup holds even when a test panics inside a write transaction: the session it
/// abandoned, whose locks would stall the next test's use of the database, is ended.
#[tokio::test]
async fn a_panicking_test_leaves_no_session_behind() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let database = db.database.pg_database().expect("a database").to_owned();
    let server_url = huiyuan_testkit::postgres::server_url();
    let (panicked_at, panic_time) = tokio::sync::oneshot::channel();
    let test = tokio::spawn(async move {
        let mut s = db.write().await;
        let tenant = crate::fixtures::tenant(&crate::fixtures::unique_slug("doomed"));
        huiyuan_store::tenants::insert(&mut s, &tenant)
            .await
            .unwrap();
        // The server's clock now: every session of this test started before it, and a later
        // test that gets the database once it is free starts its own after it.
        let mut clock = PgConnection::connect(&server_url).await.unwrap();
        let now: time::OffsetDateTime = sqlx::query_scalar("SELECT clock_timestamp()")
            .fetch_one(&mut clock)
            .await
            .unwrap();
        clock.close().await.unwrap();
        panicked_at.send(now).unwrap();
        panic!("a deliberate panic, to check that its session is ended");
    });
    assert!(test.await.expect_err("the task panics").is_panic());
    let panicked_at = panic_time.await.expect("the time of the panic");

    let mut conn = PgConnection::connect(&huiyuan_testkit::postgres::server_url())
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND backend_start < $2",
    )
    .bind(&database)
    .bind(panicked_at)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(left, 0, "a session on {database} was left behind");
}
