//! Writes whose outcome nobody reads, queued in a write transaction and sent together.
//!
//! Every statement is a round trip: to sqlx's SQLite worker thread (two thread wake-ups, and the
//! one writer connection stays taken while the task waits for a core) or over the network to
//! PostgreSQL. An insert with a fresh id, an increment without a guard or an audit entry need no
//! answer, so [`Session::defer`](crate::Session::defer) queues them and the queue goes out in one
//! round trip before the session's next statement or at commit — the transaction's reads still
//! see every earlier write, and a failing queued write still fails (and rolls back) the
//! transaction, only later.
//!
//! One round trip: SQLite runs `;`-separated statements in one call; PostgreSQL runs
//! data-modifying statements as the parts of one `WITH` statement. The parts of one PostgreSQL
//! statement share its snapshot — an update would not see a row an earlier part inserted, and of
//! two updates of one row only one would count — so an update or delete of a table the statement
//! already writes starts the next statement (two round trips then, still in order).

use sqlx::postgres::PgArguments;
use sqlx::sqlite::SqliteArguments;
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgConnection, Postgres, Sqlite, SqliteConnection};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::timestamp::Ts;

/// A value bound to a deferred statement; `None` binds SQL NULL of the column's kind.
#[derive(Clone, Debug)]
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
    pub fn json(value: &impl serde::Serialize) -> crate::StoreResult<Self> {
        serde_json::to_value(value)
            .map(|json| Value::Json(Some(json)))
            .map_err(|error| crate::StoreError::Database(sqlx::Error::Encode(Box::new(error))))
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

/// The queue of one session: the statements (numbered from `$1` each) and their values.
#[derive(Default)]
pub(crate) struct Deferred {
    statements: Vec<(String, usize)>,
    values: Vec<Value>,
}

impl Deferred {
    /// Queues `sql`, whose placeholders `$1…$n` are `values` in order.
    pub(crate) fn push(&mut self, sql: &str, values: Vec<Value>) {
        self.statements.push((sql.to_owned(), values.len()));
        self.values.extend(values);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// One SQLite call: the statements joined by `;`, their placeholders renumbered into one
    /// sequence (sqlx binds `$n` to the n-th value of the whole call).
    fn sqlite_text(&self) -> String {
        let mut text = String::new();
        let mut offset = 0;
        for (sql, count) in &self.statements {
            text.push_str(&renumber(sql, offset));
            text.push_str(";\n");
            offset += count;
        }
        text
    }

    /// The PostgreSQL statements for the queue, each with how many values it binds: a single
    /// queued write as it is, several as the parts of one `WITH` (each part runs exactly once,
    /// whether or not anything reads it). The parts of one statement share its snapshot, so an
    /// update or delete of a table an earlier part wrote would not see that write (and two updates
    /// of one row keep only one): such a write starts the next statement instead.
    fn postgres_texts(&self) -> Vec<(String, usize)> {
        let mut groups: Vec<Vec<&(String, usize)>> = Vec::new();
        let mut written: Vec<&str> = Vec::new();
        for statement in &self.statements {
            let (rewrites, table) = target(&statement.0);
            if groups.is_empty() || (rewrites && written.contains(&table)) {
                groups.push(Vec::new());
                written.clear();
            }
            written.push(table);
            if let Some(group) = groups.last_mut() {
                group.push(statement);
            }
        }
        groups
            .into_iter()
            .map(|group| with_statement(&group))
            .collect()
    }

    /// Sends the queue on a SQLite connection and empties it.
    pub(crate) async fn flush_sqlite(&mut self, c: &mut SqliteConnection) -> sqlx::Result<()> {
        let text = self.sqlite_text();
        let values = self.take();
        sqlite_query(text, values)
            .execute(&mut *c)
            .await
            .map(|_| ())
    }

    /// Sends the queue on a PostgreSQL connection (one statement unless a row would be written
    /// twice, see [`Deferred::postgres_texts`]) and empties it.
    pub(crate) async fn flush_postgres(&mut self, c: &mut PgConnection) -> sqlx::Result<()> {
        let texts = self.postgres_texts();
        let mut values = self.take().into_iter();
        for (text, count) in texts {
            let bound: Vec<Value> = values.by_ref().take(count).collect();
            postgres_query(text, bound).execute(&mut *c).await?;
        }
        Ok(())
    }

    fn take(&mut self) -> Vec<Value> {
        self.statements.clear();
        std::mem::take(&mut self.values)
    }
}

/// Runs `text` with `values` bound in order, after the session's queued writes, and answers the
/// rows it changed.
pub(crate) async fn execute_now(
    s: &mut crate::Session,
    text: &str,
    values: Vec<Value>,
) -> crate::StoreResult<u64> {
    s.flush_deferred().await?;
    let changed = match s.backend() {
        crate::backend::Backend::Sqlite(c) => sqlite_query(text.to_owned(), values)
            .execute(&mut *c)
            .await?
            .rows_affected(),
        crate::backend::Backend::Postgres(c) => postgres_query(text.to_owned(), values)
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

/// Whether `sql` changes rows that may already exist (UPDATE, DELETE), and the table it writes.
fn target(sql: &str) -> (bool, &str) {
    let mut words = sql.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let table = match verb.to_ascii_uppercase().as_str() {
        "INSERT" | "DELETE" => words.nth(1),
        _ => words.next(),
    };
    let table = table.unwrap_or_default();
    (!verb.eq_ignore_ascii_case("INSERT"), table)
}

/// One PostgreSQL statement for `group`, its placeholders numbered through, and its value count.
fn with_statement(group: &[&(String, usize)]) -> (String, usize) {
    if let [(sql, count)] = group {
        return (sql.clone(), *count);
    }
    let mut text = String::from("WITH ");
    let mut offset = 0;
    for (i, (sql, count)) in group.iter().enumerate() {
        if i > 0 {
            text.push_str(",\n");
        }
        text.push_str(&format!("w{i} AS ({})", renumber(sql, offset)));
        offset += count;
    }
    text.push_str("\nSELECT 1");
    (text, offset)
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

/// `sql` with each placeholder `$n` outside string literals turned into `$(n + offset)`.
pub(crate) fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\'' {
            quoted = !quoted;
        } else if c == '$' && !quoted {
            let mut digits = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                digits.push(*d);
                chars.next();
            }
            match digits.parse::<usize>() {
                Ok(n) => out.push_str(&(n + offset).to_string()),
                Err(_) => out.push_str(&digits),
            }
        }
    }
    out
}

/// `($1, …, $columns), ($columns+1, …)` for a multi-row `VALUES` of `rows` rows.
pub fn values_placeholders(rows: usize, columns: usize) -> String {
    let mut out = String::new();
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for column in 0..columns {
            if column > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("${}", row * columns + column + 1));
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_move_by_the_offset_but_not_inside_literals() {
        assert_eq!(
            renumber(
                "UPDATE t SET a = $1, b = json_extract(c, '$.x') WHERE id = $12",
                3
            ),
            "UPDATE t SET a = $4, b = json_extract(c, '$.x') WHERE id = $15"
        );
        assert_eq!(renumber("SELECT $1", 0), "SELECT $1");
    }

    #[test]
    fn several_writes_become_one_call_on_each_database() {
        let mut queue = Deferred::default();
        queue.push(
            "INSERT INTO a (x, y) VALUES ($1, $2)",
            vec![1_i64.into(), 2_i64.into()],
        );
        queue.push(
            "UPDATE b SET z = z + $1 WHERE id = $2",
            vec![3_i64.into(), 4_i64.into()],
        );
        assert_eq!(
            queue.sqlite_text(),
            "INSERT INTO a (x, y) VALUES ($1, $2);\nUPDATE b SET z = z + $3 WHERE id = $4;\n"
        );
        assert_eq!(
            queue.postgres_texts(),
            vec![(
                "WITH w0 AS (INSERT INTO a (x, y) VALUES ($1, $2)),\n\
                 w1 AS (UPDATE b SET z = z + $3 WHERE id = $4)\nSELECT 1"
                    .to_owned(),
                4
            )]
        );
    }

    #[test]
    fn one_write_goes_as_it_is() {
        let mut queue = Deferred::default();
        queue.push("DELETE FROM a WHERE id = $1", vec![1_i64.into()]);
        assert_eq!(
            queue.postgres_texts(),
            vec![("DELETE FROM a WHERE id = $1".to_owned(), 1)]
        );
    }

    #[test]
    fn a_second_write_to_a_table_it_updates_starts_another_postgres_statement() {
        let mut queue = Deferred::default();
        queue.push(
            "UPDATE b SET z = z + $1 WHERE id = $2",
            vec![1_i64.into(), 2_i64.into()],
        );
        queue.push("INSERT INTO a (x) VALUES ($1)", vec![3_i64.into()]);
        // Would not see the row inserted by the part before: a new statement.
        queue.push("DELETE FROM a WHERE x = $1", vec![4_i64.into()]);
        // b was written by the statement before this one, not by this one: same statement.
        queue.push(
            "update b SET z = z + $1 WHERE id = $2",
            vec![5_i64.into(), 6_i64.into()],
        );
        // The same row twice in one statement would keep one update: a new statement.
        queue.push(
            "UPDATE b SET z = z + $1 WHERE id = $2",
            vec![7_i64.into(), 8_i64.into()],
        );
        let texts = queue.postgres_texts();
        assert_eq!(
            texts.iter().map(|(_, count)| *count).collect::<Vec<_>>(),
            vec![3, 3, 2],
            "{texts:?}"
        );
        assert!(texts[1].0.contains("w0 AS (DELETE FROM a WHERE x = $1)"));
        assert!(
            texts[1]
                .0
                .contains("w1 AS (update b SET z = z + $2 WHERE id = $3)")
        );
        assert_eq!(texts[2].0, "UPDATE b SET z = z + $1 WHERE id = $2");
    }

    #[test]
    fn multi_row_values_number_row_by_row() {
        assert_eq!(values_placeholders(2, 3), "($1, $2, $3), ($4, $5, $6)");
    }
}
