//! SQLite: the migrations run once into a template file, and each test gets a copy of it in a
//! temporary directory of its own. Copying the 700 KiB file and opening it (migrations then find
//! nothing to do) takes 13 ms on the CI machine; opening and migrating a new file took 113 ms.
//!
//! The template lives in the system's temporary directory under the migrations' fingerprint, so
//! later runs and the other test binaries reuse it, and a changed migration gets a new one.

use crate::blocking::on_own_thread;
use crate::migrations::fingerprint;
use huiyuan_store::backend::SQLITE_FILE;
use huiyuan_store::{DatabaseSettings, Store};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tempfile::TempDir;

/// The migrated template, built by the first test that needs it.
static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();

/// A test's own migrated SQLite database: `huiyuan.db` in a temporary data directory, removed
/// with it on drop.
pub struct SqliteDatabase {
    dir: TempDir,
}

impl SqliteDatabase {
    pub fn create() -> SqliteDatabase {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        std::fs::copy(template(), dir.path().join(SQLITE_FILE)).expect("copy the template");
        SqliteDatabase { dir }
    }

    /// The data directory holding the database file, as `DatabaseSettings::data_dir`.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The template file, built first when no run has built it yet.
pub fn template() -> &'static Path {
    TEMPLATE.get_or_init(|| {
        let cache = std::env::temp_dir().join("huiyuan-testkit");
        std::fs::create_dir_all(&cache).expect("create the template directory");
        let path = cache.join(format!("sqlite-{}.db", fingerprint("sqlite")));
        if !path.exists() {
            build(&cache, &path);
        }
        path
    })
}

/// Migrates a new file and moves it into place whole: a rename, so a concurrent run sees either
/// no template or a complete one.
fn build(cache: &Path, path: &Path) {
    let building = tempfile::tempdir_in(cache).expect("create a build directory");
    let data_dir = building.path().to_owned();
    on_own_thread(move || async move {
        let store = Store::connect(&DatabaseSettings::sqlite(&data_dir))
            .await
            .expect("open the SQLite template");
        store.migrate().await.expect("migrate the SQLite template");
        store.close().await;
        // The file is copied alone, without its write-ahead log: move every page into it.
        let mut conn = SqliteConnectOptions::new()
            .filename(data_dir.join(SQLITE_FILE))
            .connect()
            .await
            .expect("reopen the SQLite template");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint the SQLite template");
        conn.close().await.expect("close the SQLite template");
    });
    std::fs::rename(building.path().join(SQLITE_FILE), path).expect("publish the template");
}
