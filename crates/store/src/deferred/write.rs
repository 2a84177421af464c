//! [`Write`]: what a caller queues — new rows of one table, or changes to the rows an equality key
//! finds — and the SQL text it becomes. Table and column names are `'static` literals of the
//! store's own code, never input, so they go into the text as they are; every value is bound.

use super::value::Value;

/// Most rows in one insert statement: far below both databases' bind-parameter limits.
const INSERT_CHUNK: usize = 500;

/// A write whose outcome nobody reads, queued with [`Session::defer`](crate::Session::defer).
///
/// There are two kinds, and no upsert. An insert's rows are new: a twin fails the transaction
/// with a unique-key conflict, as it would alone. An update changes columns of the rows its key
/// finds, to a value or by an amount. An `ON CONFLICT … DO UPDATE` that met one row twice in one
/// statement would be an error on PostgreSQL, and the queue groups writes into one statement
/// there, so such a write cannot be queued.
#[derive(Clone, Debug, PartialEq)]
pub struct Write(Vec<Statement>);

/// What an update does to one column.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// `column = value`.
    Set(Value),
    /// `column = column + amount`: an increment that reads nothing back.
    Add(i64),
}

impl Write {
    /// Inserts `rows` (any number, none included) into `table`, each row's values in the order of
    /// `columns`. Many rows go in one statement per 500 rows.
    pub fn insert<const N: usize>(
        table: &'static str,
        columns: &'static [&'static str; N],
        rows: impl IntoIterator<Item = [Value; N]>,
    ) -> Self {
        const { assert!(N > 0, "an insert names its columns") };
        let mut statements = Vec::new();
        let mut chunk: Vec<Vec<Value>> = Vec::new();
        for row in rows {
            chunk.push(row.into());
            if chunk.len() == INSERT_CHUNK {
                statements.push(Statement::insert(
                    table,
                    columns,
                    std::mem::take(&mut chunk),
                ));
            }
        }
        if !chunk.is_empty() {
            statements.push(Statement::insert(table, columns, chunk));
        }
        Self(statements)
    }

    /// Applies `changes` to the rows of `table` whose columns equal `key`.
    pub fn update<const K: usize, const C: usize>(
        table: &'static str,
        key: [(&'static str, Value); K],
        changes: [(&'static str, Change); C],
    ) -> Self {
        const { assert!(K > 0 && C > 0, "an update has a key and changes something") };
        Self(vec![Statement::Update {
            table,
            key: key.into(),
            changes: changes.into(),
        }])
    }

    /// The statements of this write, in order.
    pub(super) fn into_statements(self) -> Vec<Statement> {
        self.0
    }
}

/// One statement of a [`Write`].
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Statement {
    Insert {
        table: &'static str,
        columns: &'static [&'static str],
        rows: Vec<Vec<Value>>,
    },
    Update {
        table: &'static str,
        key: Vec<(&'static str, Value)>,
        changes: Vec<(&'static str, Change)>,
    },
}

impl Statement {
    fn insert(
        table: &'static str,
        columns: &'static [&'static str],
        rows: Vec<Vec<Value>>,
    ) -> Self {
        Statement::Insert {
            table,
            columns,
            rows,
        }
    }

    /// The table the statement writes.
    pub(super) fn table(&self) -> &'static str {
        match self {
            Statement::Insert { table, .. } | Statement::Update { table, .. } => table,
        }
    }

    /// Whether the statement changes rows that may already exist (an update), as opposed to
    /// adding new ones.
    pub(super) fn changes_existing_rows(&self) -> bool {
        matches!(self, Statement::Update { .. })
    }

    /// Appends the statement's text to `sql`, its placeholders numbered on from the values
    /// `sql` already binds.
    pub(super) fn render(self, sql: &mut Sql) {
        match self {
            Statement::Insert {
                table,
                columns,
                rows,
            } => {
                sql.push("INSERT INTO ");
                sql.push(table);
                sql.push(" (");
                sql.push(&columns.join(", "));
                sql.push(") VALUES ");
                for (i, row) in rows.into_iter().enumerate() {
                    sql.push(if i == 0 { "(" } else { ", (" });
                    for (j, value) in row.into_iter().enumerate() {
                        if j > 0 {
                            sql.push(", ");
                        }
                        sql.bind(value);
                    }
                    sql.push(")");
                }
            }
            Statement::Update {
                table,
                key,
                changes,
            } => {
                sql.push("UPDATE ");
                sql.push(table);
                sql.push(" SET ");
                for (i, (column, change)) in changes.into_iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.push(column);
                    sql.push(" = ");
                    match change {
                        Change::Set(value) => sql.bind(value),
                        Change::Add(amount) => {
                            sql.push(column);
                            sql.push(" + ");
                            sql.bind(amount.into());
                        }
                    }
                }
                for (i, (column, value)) in key.into_iter().enumerate() {
                    sql.push(if i == 0 { " WHERE " } else { " AND " });
                    sql.push(column);
                    sql.push(" = ");
                    sql.bind(value);
                }
            }
        }
    }
}

/// The text of one call to the database and the values its placeholders `$1…$n` bind.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Sql {
    pub(super) text: String,
    pub(super) values: Vec<Value>,
}

impl Sql {
    pub(super) fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Binds `value` to the next placeholder and writes that placeholder.
    fn bind(&mut self, value: Value) {
        self.values.push(value);
        self.text.push('$');
        self.text.push_str(&self.values.len().to_string());
    }
}
