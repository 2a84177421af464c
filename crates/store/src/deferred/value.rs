//! [`Value`]: a value bound to a statement the store builds rather than writes out — a queued
//! [`Write`](super::Write), or a statement whose text is assembled from parts (the order intake).
//! `None` binds SQL NULL of the column's kind, so PostgreSQL knows each parameter's type.

use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, Sqlite};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::backend::{Backend, Session};
use crate::error::{StoreError, StoreResult};
use crate::timestamp::Ts;

/// A value bound to a deferred statement; `None` binds SQL NULL of the column's kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Int(Option<i64>),
    Bool(bool),
    Text(Option<String>),
    Uuid(Option<Uuid>),
    Time(Option<OffsetDateTime>),
    Json(Option<serde_json::Value>),
}

impl Value {
    /// `value` as JSON (a document column).
    pub fn json(value: &impl serde::Serialize) -> StoreResult<Self> {
        serde_json::to_value(value)
            .map(|json| Value::Json(Some(json)))
            .map_err(|error| StoreError::Database(sqlx::Error::Encode(Box::new(error))))
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(Some(value))
    }
}

impl From<Option<i64>> for Value {
    fn from(value: Option<i64>) -> Self {
        Value::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Bool(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(Some(value))
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(Some(value.to_owned()))
    }
}

impl From<Option<String>> for Value {
    fn from(value: Option<String>) -> Self {
        Value::Text(value)
    }
}

impl From<Option<&str>> for Value {
    fn from(value: Option<&str>) -> Self {
        Value::Text(value.map(str::to_owned))
    }
}

impl From<Uuid> for Value {
    fn from(value: Uuid) -> Self {
        Value::Uuid(Some(value))
    }
}

impl From<Option<Uuid>> for Value {
    fn from(value: Option<Uuid>) -> Self {
        Value::Uuid(value)
    }
}

impl From<OffsetDateTime> for Value {
    fn from(value: OffsetDateTime) -> Self {
        Value::Time(Some(value))
    }
}

impl From<Option<OffsetDateTime>> for Value {
    fn from(value: Option<OffsetDateTime>) -> Self {
        Value::Time(value)
    }
}

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Self {
        Value::Json(Some(value))
    }
}

/// Runs `text` with `values` bound in order, after the session's queued writes, and answers the
/// rows it changed.
pub(crate) async fn execute_now(
    s: &mut Session,
    text: &str,
    values: Vec<Value>,
) -> StoreResult<u64> {
    let changed = match s.backend().await? {
        Backend::Sqlite(c) => sqlite_query(text.to_owned(), values)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        Backend::Postgres(c) => postgres_query(text.to_owned(), values)
            .execute(&mut *c)
            .await?
            .rows_affected(),
    };
    Ok(changed)
}

/// Binds `values` in order to a query of either database (the same arms serve both types).
macro_rules! bind_values {
    ($text:expr, $values:expr) => {{
        let mut query = sqlx::query(AssertSqlSafe($text));
        for value in $values {
            query = match value {
                Value::Int(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
                Value::Text(v) => query.bind(v),
                Value::Uuid(v) => query.bind(v),
                Value::Time(v) => query.bind(v.map(Ts)),
                Value::Json(v) => query.bind(v.map(Json)),
            };
        }
        query
    }};
}

/// `text` with `values` bound to its placeholders in order, for SQLite.
pub(crate) fn sqlite_query(
    text: String,
    values: Vec<Value>,
) -> sqlx::query::Query<'static, Sqlite, SqliteArguments> {
    bind_values!(text, values)
}

/// `text` with `values` bound to its placeholders in order, for PostgreSQL.
pub(crate) fn postgres_query(
    text: String,
    values: Vec<Value>,
) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    bind_values!(text, values)
}
