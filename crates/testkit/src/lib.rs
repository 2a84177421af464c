//! Fixtures shared by the test suites of `huiyuan-store` and `huiyuan-server`.
//!
//! - [`on_both!`]: turns each `async fn` of a test module into one test per database.
//! - [`database`]: [`TestDatabase`], a migrated, empty database per test that goes away (or back
//!   to its pool) when the test ends, even when it panics.
//! - [`sqlite`], [`postgres`]: how each database gets there fast: the migrations run once into a
//!   template; a SQLite test gets a copy of the file, a PostgreSQL test an emptied copy of the
//!   template database from a pool.
//! - [`migrations`]: the fingerprint of a migration tree that names its template.
//! - `blocking`: async work run to completion on a thread of its own (template builds, cleanups).

mod blocking;
pub mod database;
pub mod migrations;
mod on_both;
pub mod postgres;
pub mod sqlite;

pub use database::{Backend, TestDatabase};
