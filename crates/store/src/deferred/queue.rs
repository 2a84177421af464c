//! A session's queued writes, and how they go out: one call on SQLite, and on PostgreSQL one
//! `WITH` statement unless a row could be written twice in it.

use sqlx::{PgConnection, SqliteConnection};

use super::value::{postgres_query, sqlite_query};
use super::write::{Sql, Statement, Write};

/// The queue of one session, in the order the writes were queued.
#[derive(Default)]
pub(crate) struct Queue {
    statements: Vec<Statement>,
}

impl Queue {
    pub(crate) fn push(&mut self, write: Write) {
        self.statements.extend(write.into_statements());
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// One SQLite call: the statements joined by `;`, their placeholders numbered through the
    /// whole call (sqlx binds `$n` to the n-th value of the call), then `trailer` — statements
    /// without values that must follow the writes in the same call.
    fn sqlite_call(statements: Vec<Statement>, trailer: &[&str]) -> Sql {
        let mut sql = Sql::default();
        for statement in statements {
            statement.render(&mut sql);
            sql.push(";\n");
        }
        for statement in trailer {
            sql.push(statement);
            sql.push(";\n");
        }
        sql
    }

    /// The PostgreSQL statements for the queue: a single queued statement as it is, several as
    /// the parts of one `WITH` (each part runs exactly once, whether or not anything reads it).
    /// The parts of one statement share its snapshot, so an update of a table an earlier part
    /// wrote would not see that write (and two updates of one row would keep only one): such an
    /// update starts the next statement instead. Inserts never need to, as every row they add
    /// is new.
    fn postgres_calls(statements: Vec<Statement>) -> Vec<Sql> {
        let mut groups: Vec<Vec<Statement>> = Vec::new();
        let mut written: Vec<&'static str> = Vec::new();
        for statement in statements {
            let table = statement.table();
            if groups.is_empty() || (statement.changes_existing_rows() && written.contains(&table))
            {
                groups.push(Vec::new());
                written.clear();
            }
            written.push(table);
            if let Some(group) = groups.last_mut() {
                group.push(statement);
            }
        }
        groups.into_iter().map(with_statement).collect()
    }

    /// Sends the queue, then `trailer`, on a SQLite connection in one call, and empties the queue
    /// (also when the call fails: the transaction is failed then).
    pub(crate) async fn flush_sqlite(
        &mut self,
        c: &mut SqliteConnection,
        trailer: &[&str],
    ) -> sqlx::Result<()> {
        let sql = Self::sqlite_call(std::mem::take(&mut self.statements), trailer);
        if sql.text.is_empty() {
            return Ok(());
        }
        sqlite_query(sql.text, sql.values)
            .execute(&mut *c)
            .await
            .map(|_| ())
    }

    /// Sends the queue on a PostgreSQL connection (one statement unless a row would be written
    /// twice, see [`Queue::postgres_calls`]) and empties it.
    pub(crate) async fn flush_postgres(&mut self, c: &mut PgConnection) -> sqlx::Result<()> {
        for sql in Self::postgres_calls(std::mem::take(&mut self.statements)) {
            postgres_query(sql.text, sql.values)
                .execute(&mut *c)
                .await?;
        }
        Ok(())
    }
}

/// One PostgreSQL statement for `group`, its placeholders numbered through.
fn with_statement(group: Vec<Statement>) -> Sql {
    let mut sql = Sql::default();
    let single = group.len() == 1;
    if !single {
        sql.push("WITH ");
    }
    for (i, statement) in group.into_iter().enumerate() {
        if single {
            statement.render(&mut sql);
            continue;
        }
        if i > 0 {
            sql.push(",\n");
        }
        sql.push(&format!("w{i} AS ("));
        statement.render(&mut sql);
        sql.push(")");
    }
    if !single {
        sql.push("\nSELECT 1");
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::Queue;
    use crate::deferred::value::Value;
    use crate::deferred::write::{Change, Write};

    fn ints(values: &[i64]) -> Vec<Value> {
        values.iter().map(|value| Value::from(*value)).collect()
    }

    fn increment(table: &'static str, id: i64, by: i64) -> Write {
        Write::update(table, [("id", id.into())], [("z", Change::Add(by))])
    }

    fn queue(writes: Vec<Write>) -> Queue {
        let mut queue = Queue::default();
        for write in writes {
            queue.push(write);
        }
        queue
    }

    #[test]
    fn several_writes_become_one_call_on_each_database() {
        let writes = || {
            queue(vec![
                Write::insert("a", &["x", "y"], [[1_i64.into(), 2_i64.into()]]),
                Write::update(
                    "b",
                    [("id", 4_i64.into())],
                    [("z", Change::Add(3)), ("t", Change::Set("now".into()))],
                ),
            ])
        };
        let sqlite = Queue::sqlite_call(writes().statements, &["RELEASE s"]);
        assert_eq!(
            sqlite.text,
            "INSERT INTO a (x, y) VALUES ($1, $2);\n\
             UPDATE b SET z = z + $3, t = $4 WHERE id = $5;\nRELEASE s;\n"
        );
        let mut bound = ints(&[1, 2, 3]);
        bound.extend(["now".into(), 4_i64.into()]);
        assert_eq!(sqlite.values, bound);
        let postgres = Queue::postgres_calls(writes().statements);
        assert_eq!(postgres.len(), 1);
        assert_eq!(
            postgres[0].text,
            "WITH w0 AS (INSERT INTO a (x, y) VALUES ($1, $2)),\n\
             w1 AS (UPDATE b SET z = z + $3, t = $4 WHERE id = $5)\nSELECT 1"
        );
        assert_eq!(postgres[0].values, bound);
    }

    #[test]
    fn one_write_goes_as_it_is() {
        let calls = Queue::postgres_calls(queue(vec![increment("a", 1, 2)]).statements);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].text, "UPDATE a SET z = z + $1 WHERE id = $2");
        assert_eq!(calls[0].values, ints(&[2, 1]));
    }

    #[test]
    fn rows_number_their_values_row_by_row() {
        let rows = [[1_i64, 2, 3], [4, 5, 6]].map(|row| row.map(Value::from));
        let sql = Queue::sqlite_call(
            queue(vec![Write::insert("a", &["x", "y", "z"], rows)]).statements,
            &[],
        );
        assert_eq!(
            sql.text,
            "INSERT INTO a (x, y, z) VALUES ($1, $2, $3), ($4, $5, $6);\n"
        );
        assert_eq!(sql.values, ints(&[1, 2, 3, 4, 5, 6]));
    }

    #[test]
    fn many_rows_go_in_statements_of_at_most_500() {
        let rows = (0..1_001_i64).map(|i| [Value::from(i)]);
        let statements = queue(vec![Write::insert("a", &["x"], rows)]).statements;
        assert_eq!(statements.len(), 3);
        let sqlite = Queue::sqlite_call(statements.clone(), &[]);
        assert_eq!(sqlite.values.len(), 1_001);
        assert!(
            sqlite
                .text
                .contains("($500);\nINSERT INTO a (x) VALUES ($501), ")
        );
        assert!(sqlite.text.ends_with("VALUES ($1001);\n"));
        // Inserts into one table share a statement on PostgreSQL.
        assert_eq!(Queue::postgres_calls(statements).len(), 1);
        // And no rows, no statement.
        let none = Write::insert("a", &["x"], std::iter::empty());
        assert!(queue(vec![none]).is_empty());
    }

    #[test]
    fn an_update_of_a_table_the_statement_writes_starts_another_postgres_statement() {
        let statements = queue(vec![
            increment("b", 1, 10),
            Write::insert("a", &["x"], [[3_i64.into()]]),
            // Would not see the row inserted by the part before: a new statement.
            increment("a", 3, 20),
            // b was written by the statement before this one, not by this one: same statement.
            increment("b", 1, 30),
            // The same row twice in one statement would keep one update: a new statement.
            increment("b", 1, 40),
        ])
        .statements;
        let calls = Queue::postgres_calls(statements);
        let counts: Vec<usize> = calls.iter().map(|sql| sql.values.len()).collect();
        assert_eq!(counts, vec![3, 4, 2], "{calls:?}");
        assert!(
            calls[1]
                .text
                .contains("w0 AS (UPDATE a SET z = z + $1 WHERE id = $2)")
        );
        assert!(
            calls[1]
                .text
                .contains("w1 AS (UPDATE b SET z = z + $3 WHERE id = $4)")
        );
        assert_eq!(calls[2].text, "UPDATE b SET z = z + $1 WHERE id = $2");
        assert_eq!(calls[2].values, ints(&[40, 1]));
    }
}
