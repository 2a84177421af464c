//! PostgreSQL: the migrations run once into a template database; each test then claims a
//! database of its own from a pool of copies, emptied for it, and gives it back when it ends.
//!
//! Why a pool, measured on the shared 2-core CI machine (per test database): migrating a fresh
//! schema took 1.3 s and dropping it 0.6 s; copying the template with `CREATE DATABASE …
//! TEMPLATE` took 0.56 s (PostgreSQL 15 copies its 9 MB through the write-ahead log) and
//! `DROP DATABASE` 0.85 s. Claiming a pooled database and emptying it takes 0.04 s, giving it
//! back 0.03 s. A test claims a free one with an advisory lock, held by a session for as long as
//! the test runs, so a crashed run frees its databases too; the claim deletes whatever rows the
//! previous test left.
//!
//! The template and the pool are named by the migrations' fingerprint and kept between runs, so
//! later runs, the other test binaries and other checkouts on the same server reuse them. The
//! template refuses connections, because a copy fails while anyone is connected to it.

use crate::blocking::on_own_thread;
use crate::migrations::fingerprint;
use huiyuan_store::{DatabaseSettings, Store};
use sqlx::{Connection, PgConnection};
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

/// The PostgreSQL server the suites use when `HUIYUAN_TEST_DATABASE_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How long to wait for PostgreSQL before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many pooled databases one migration tree may have: more than tests ever run at once
/// against one server.
const MAX_POOLED: i32 = 256;

/// How long giving a database back waits for the sessions a test left open to end.
const TERMINATE_TIMEOUT_MS: i64 = 10_000;

/// The template's name, once the first test that needs it has found or built it.
static TEMPLATE: OnceLock<String> = OnceLock::new();

/// The statements that empty a pooled database, read from the first one claimed.
static EMPTYING: OnceLock<String> = OnceLock::new();

/// The URL of the server's administration database, where test databases are created.
pub fn server_url() -> String {
    std::env::var("HUIYUAN_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned())
}

/// Whether an unreachable server fails the test instead of skipping its PostgreSQL half.
pub fn required() -> bool {
    std::env::var_os("CI").is_some()
        || std::env::var("HUIYUAN_REQUIRE_POSTGRES").is_ok_and(|value| value == "1")
}

/// `url` naming `database` instead of the one it names.
pub fn with_database(url: &str, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority_and_path, query) = match rest.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (rest, None),
    };
    let authority = authority_and_path
        .split_once('/')
        .map_or(authority_and_path, |(authority, _)| authority);
    match query {
        Some(query) => format!("{scheme}://{authority}/{database}?{query}"),
        None => format!("{scheme}://{authority}/{database}"),
    }
}

/// A test's own migrated, empty PostgreSQL database, given back to the pool on drop.
pub struct PgDatabase {
    server_url: String,
    name: String,
    /// The session holding the database's advisory lock, and its process id; ending it frees
    /// the database for the next test.
    claim: Option<PgConnection>,
    claim_pid: i32,
}

impl PgDatabase {
    /// `None` (after a loud note on stderr) when the server is unreachable and not required.
    pub async fn create() -> Option<PgDatabase> {
        let server_url = server_url();
        let mut claim =
            match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&server_url)).await {
                Ok(Ok(conn)) => conn,
                Ok(Err(error)) => return unreachable(&server_url, &error.to_string()),
                Err(_) => return unreachable(&server_url, "timed out"),
            };
        let template = template(&server_url);
        let pool = template.replacen("hy_tmpl_", "hy_pool_", 1);
        for number in 0..MAX_POOLED {
            let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1), $2)")
                .bind(&pool)
                .bind(number)
                .fetch_one(&mut claim)
                .await
                .expect("try to claim a pooled database");
            if !free {
                continue;
            }
            let name = format!("{pool}_{number}");
            let claim_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut claim)
                .await
                .expect("read the claiming session's id");
            if exists(&mut claim, &name).await {
                empty(&with_database(&server_url, &name)).await;
            } else {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "CREATE DATABASE {name} TEMPLATE {template}"
                )))
                .execute(&mut claim)
                .await
                .expect("create a pooled database from the template");
            }
            return Some(PgDatabase {
                server_url,
                name,
                claim: Some(claim),
                claim_pid,
            });
        }
        panic!("all {MAX_POOLED} pooled test databases are in use");
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL to connect to this database.
    pub fn url(&self) -> String {
        with_database(&self.server_url, &self.name)
    }
}

impl Drop for PgDatabase {
    /// Ends the sessions the test left open (a transaction abandoned by a panic holds locks the
    /// next test's emptying would wait on, a pool nobody closed), then the claiming session, and
    /// waits until they have ended: the database is free when this returns.
    fn drop(&mut self) {
        let (url, name, claim_pid) = (self.server_url.clone(), self.name.clone(), self.claim_pid);
        let ended = on_own_thread(move || async move {
            let mut conn = PgConnection::connect(&url).await?;
            sqlx::query(
                "SELECT pg_terminate_backend(pid, $3) FROM pg_stat_activity \
                 WHERE (datname = $1 OR pid = $2) AND pid <> pg_backend_pid()",
            )
            .bind(&name)
            .bind(claim_pid)
            .bind(TERMINATE_TIMEOUT_MS)
            .execute(&mut conn)
            .await?;
            conn.close().await
        });
        if let Err(error) = ended {
            eprintln!(
                "warning: could not end the sessions on test database {}: {error}",
                self.name
            );
        }
        // Its server process has gone (or, should ending it have failed, goes with the socket).
        drop(self.claim.take());
    }
}

async fn exists(conn: &mut PgConnection, database: &str) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(database)
        .fetch_one(conn)
        .await
        .expect("look for a database")
}

/// Deletes every row but the migration history, in one round trip.
async fn empty(url: &str) {
    let mut conn = PgConnection::connect(url)
        .await
        .expect("connect to a pooled database");
    if EMPTYING.get().is_none() {
        let statements = emptying_statements(&mut conn).await;
        let _ = EMPTYING.set(statements);
    }
    let statements = EMPTYING.get().expect("set above");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statements.as_str()))
        .execute(&mut conn)
        .await
        .expect("empty a pooled database");
    conn.close().await.ok();
}

/// `DELETE FROM …;` for every table of the public schema but sqlx's migration history, the
/// tables that reference others first, so no foreign key ever points at a deleted row (the
/// schema's foreign keys form no cycle; self-references are checked at the statement's end).
async fn emptying_statements(conn: &mut PgConnection) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(tablename AS TEXT) FROM pg_tables \
         WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations' ORDER BY tablename",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("list the tables");
    let references: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(child.relname AS TEXT), CAST(parent.relname AS TEXT) \
         FROM pg_constraint AS c \
         JOIN pg_class AS child ON child.oid = c.conrelid \
         JOIN pg_class AS parent ON parent.oid = c.confrelid \
         WHERE c.contype = 'f' AND c.conrelid <> c.confrelid",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("list the foreign keys");
    let mut ordered: Vec<&str> = Vec::with_capacity(tables.len());
    let mut left: Vec<&str> = tables.iter().map(String::as_str).collect();
    while !left.is_empty() {
        // A table can go once no table still to go references it.
        let (ready, waiting): (Vec<&str>, Vec<&str>) = left.iter().copied().partition(|table| {
            !references
                .iter()
                .any(|(child, parent)| parent == table && left.contains(&child.as_str()))
        });
        assert!(
            !ready.is_empty(),
            "the foreign keys form a cycle: {waiting:?}"
        );
        ordered.extend(ready);
        left = waiting;
    }
    ordered
        .iter()
        .map(|table| format!("DELETE FROM \"{table}\";"))
        .collect()
}

fn unreachable(url: &str, reason: &str) -> Option<PgDatabase> {
    let url = huiyuan_store::backend::redact_url(url);
    if required() {
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

/// The template's name; found, or built, by the first caller.
fn template(server_url: &str) -> &'static str {
    TEMPLATE.get_or_init(|| {
        let server_url = server_url.to_owned();
        on_own_thread(move || async move { find_or_build_template(&server_url).await })
    })
}

/// Runs that start together build the template once: they queue on an advisory lock, and the
/// builder migrates under a name of its own and renames the finished database into place.
async fn find_or_build_template(server_url: &str) -> String {
    let name = format!("hy_tmpl_{}", fingerprint("postgres"));
    let mut admin = PgConnection::connect(server_url)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query("SELECT pg_advisory_lock(hashtext($1))")
        .bind(&name)
        .execute(&mut admin)
        .await
        .expect("take the template lock");
    if !exists(&mut admin, &name).await {
        let building = format!("{name}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {building}")))
            .execute(&mut admin)
            .await
            .expect("create the template database");
        let settings = DatabaseSettings {
            url: Some(with_database(server_url, &building)),
            max_connections: 1,
            ..DatabaseSettings::default()
        };
        let store = Store::connect(&settings)
            .await
            .expect("connect to the template database");
        store
            .migrate()
            .await
            .expect("migrate the template database");
        store.close().await;
        // Both wait (up to 5 s, PostgreSQL's own limit) for the closed session to end.
        for statement in [
            format!("ALTER DATABASE {building} RENAME TO {name}"),
            format!("ALTER DATABASE {name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .expect("publish the template database");
        }
        drop_stale_sets(&mut admin, &name).await;
    }
    sqlx::query("SELECT pg_advisory_unlock(hashtext($1))")
        .bind(&name)
        .execute(&mut admin)
        .await
        .expect("release the template lock");
    admin.close().await.ok();
    name
}

/// Drops the templates and pooled copies built for other migrations, so a server keeps one set:
/// the test databases leave nothing behind beyond what the next run reuses. A database still in
/// use (a run on an older checkout) refuses to go and is left for a later run.
async fn drop_stale_sets(admin: &mut PgConnection, current_template: &str) {
    let fingerprint = current_template.trim_start_matches("hy_tmpl_");
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database \
         WHERE (datname LIKE 'hy\\_tmpl\\_%' OR datname LIKE 'hy\\_pool\\_%') \
         AND position($1 in datname) = 0",
    )
    .bind(fingerprint)
    .fetch_all(&mut *admin)
    .await
    .unwrap_or_default();
    for database in stale {
        let statements = [
            format!("ALTER DATABASE {database} WITH IS_TEMPLATE false"),
            format!("DROP DATABASE IF EXISTS {database}"),
        ];
        for statement in statements {
            if sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *admin)
                .await
                .is_err()
            {
                break;
            }
        }
    }
}
