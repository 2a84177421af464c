//! The two migration trees describe one schema: the same tables with the same columns, each table
//! carrying `tenant_id`; the same column types (as each database stores them), primary keys,
//! unique keys, indexes and triggers. Where the trees differ on purpose, [`KNOWN_DIFFERENCES`]
//! says so with a reason, and any other difference fails.

use crate::harness::TestDb;
use huiyuan_store::backend::Backend;
use sqlx::{PgConnection, SqliteConnection};
use std::collections::{BTreeMap, BTreeSet};

/// Table name → column name → whether the column is nullable.
type Schema = BTreeMap<String, BTreeMap<String, bool>>;

/// sqlx's own bookkeeping, not part of our schema.
const IGNORED_TABLES: &[&str] = &["_sqlx_migrations"];

/// Differences between the migrated schemas that are meant, each with why. An entry reads as
/// [`Shape::differences`] writes it: the side that has the line, then the line, e.g.
/// `("postgres: index orders_x_idx on orders (tenant_id, x)", "only PostgreSQL's planner needs it")`.
///
/// Empty: every compared item agrees. Where the trees do differ on purpose is inside trigger
/// bodies, which are not compared: SQLite's follow-merge triggers run AFTER INSERT and name their
/// index (`INDEXED BY`, 0025), PostgreSQL's run BEFORE INSERT and lock the member row; the merge
/// conformance tests check what both do.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[];

async fn schema_of(db: &TestDb) -> Schema {
    let mut s = db.read().await;
    let rows: Vec<(String, String, bool)> = match s.backend().await.unwrap() {
        Backend::Sqlite(c) => sqlx::query_as(
            "SELECT m.name, p.name, p.\"notnull\" = 0 FROM sqlite_master AS m, pragma_table_info(m.name) AS p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(&mut *c)
        .await
        .expect("read the SQLite schema"),
        Backend::Postgres(c) => sqlx::query_as(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), is_nullable = 'YES' \
             FROM information_schema.columns WHERE table_schema = $1",
        )
        .bind(db.pg_schema().expect("a PostgreSQL test database has a schema"))
        .fetch_all(&mut *c)
        .await
        .expect("read the PostgreSQL schema"),
    };
    let mut schema = Schema::new();
    for (table, column, nullable) in rows {
        if !IGNORED_TABLES.contains(&table.as_str()) {
            schema.entry(table).or_default().insert(column, nullable);
        }
    }
    assert!(!schema.is_empty(), "{} has tables", db.backend());
    schema
}

fn columns(schema: &Schema) -> BTreeMap<&str, BTreeSet<&str>> {
    schema
        .iter()
        .map(|(table, columns)| (table.as_str(), columns.keys().map(String::as_str).collect()))
        .collect()
}

fn assert_every_table_has_tenant_id(schema: &Schema, backend: &str) {
    for (table, columns) in schema {
        assert!(
            columns.contains_key("tenant_id"),
            "{backend}: table {table} has no tenant_id column"
        );
    }
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_have_the_same_tables_and_columns() {
    let sqlite = schema_of(&TestDb::sqlite().await).await;
    assert_every_table_has_tenant_id(&sqlite, "sqlite");
    let Some(postgres) = TestDb::postgres().await else {
        return;
    };
    let postgres = schema_of(&postgres).await;
    assert_every_table_has_tenant_id(&postgres, "postgres");

    let (sqlite, postgres) = (columns(&sqlite), columns(&postgres));
    let (sqlite_tables, postgres_tables): (BTreeSet<_>, BTreeSet<_>) =
        (sqlite.keys().collect(), postgres.keys().collect());
    assert_eq!(
        sqlite_tables, postgres_tables,
        "the migration trees create different tables"
    );
    for (table, sqlite_columns) in &sqlite {
        let postgres_columns = &postgres[table];
        assert_eq!(
            sqlite_columns,
            postgres_columns,
            "table {table}: only in SQLite {:?}, only in PostgreSQL {:?}",
            sqlite_columns
                .difference(postgres_columns)
                .collect::<Vec<_>>(),
            postgres_columns
                .difference(sqlite_columns)
                .collect::<Vec<_>>(),
        );
    }
}

/// NOT NULL must agree too. SQLite, unlike the SQL standard, lets a PRIMARY KEY column of an
/// ordinary table hold NULL unless it is declared NOT NULL as well.
#[tokio::test]
async fn sqlite_and_postgres_schemas_agree_on_nullability() {
    let sqlite = schema_of(&TestDb::sqlite().await).await;
    let Some(postgres) = TestDb::postgres().await else {
        return;
    };
    let postgres = schema_of(&postgres).await;
    let nullable = |schema: &Schema| -> BTreeSet<String> {
        schema
            .iter()
            .flat_map(|(table, columns)| {
                columns
                    .iter()
                    .filter(|(_, nullable)| **nullable)
                    .map(move |(column, _)| format!("{table}.{column}"))
            })
            .collect()
    };
    assert_eq!(
        nullable(&sqlite),
        nullable(&postgres),
        "nullable columns differ"
    );
}

/// Column types, keys, indexes and triggers agree, but for the [`KNOWN_DIFFERENCES`]; and each of
/// those is still there (a difference that went away leaves its entry stale).
#[tokio::test]
async fn sqlite_and_postgres_schemas_agree_on_types_keys_indexes_and_triggers() {
    let sqlite = Shape::of(&TestDb::sqlite().await).await;
    let Some(postgres) = TestDb::postgres().await else {
        return;
    };
    let postgres = Shape::of(&postgres).await;
    let found = sqlite.differences(&postgres);
    let known: BTreeSet<String> = KNOWN_DIFFERENCES
        .iter()
        .map(|(line, _)| (*line).to_owned())
        .collect();
    let new: Vec<&String> = found.difference(&known).collect();
    let gone: Vec<&String> = known.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "the migration trees drifted apart:\n  new: {new:#?}\n  listed but no longer there: {gone:#?}"
    );
}

/// The family a column's type belongs to, as the two databases store it. SQLite keeps only a few
/// storage classes, and our SQLite tree declares only INTEGER, TEXT and BLOB: sqlx stores `bool`
/// as an integer, `OffsetDateTime` (through `Ts`), dates and JSON as text, and `Uuid` as a blob.
/// Each PostgreSQL type therefore maps to the SQLite class its values take, so a timestamp kept
/// as an integer on one side, or an id kept as text, shows as a difference.
fn family(backend: &str, declared: &str) -> String {
    let declared = declared.to_ascii_lowercase();
    let family = match (backend, declared.as_str()) {
        ("sqlite", "integer" | "int" | "bigint" | "boolean") => "integer",
        ("sqlite", "text") => "text",
        ("sqlite", "blob") => "blob",
        ("sqlite", "real" | "double") => "real",
        (_, "smallint" | "integer" | "bigint" | "boolean") => "integer",
        (_, "text" | "character varying" | "character") => "text",
        (_, "timestamp with time zone" | "timestamp without time zone" | "date") => "text",
        (_, "json" | "jsonb") => "text",
        (_, "uuid" | "bytea") => "blob",
        (_, "real" | "double precision") => "real",
        _ => return format!("unmapped {backend} type {declared}"),
    };
    family.to_owned()
}

/// A PostgreSQL index: its name, table, key columns in order ("(expression)" for an
/// expression), whether it is unique, partial, the primary key, or a UNIQUE constraint's.
type PgIndex = (String, String, Vec<String>, bool, bool, bool, bool);

/// Everything the parity test compares beyond column names and nullability, as one line per
/// item so a difference reads as what one side has and the other lacks.
#[derive(Debug, Default)]
struct Shape {
    lines: BTreeSet<String>,
}

impl Shape {
    async fn of(db: &TestDb) -> Shape {
        let mut shape = Shape::default();
        let mut s = db.read().await;
        match s.backend().await.unwrap() {
            Backend::Sqlite(c) => shape.read_sqlite(c).await,
            Backend::Postgres(c) => {
                let schema = db
                    .pg_schema()
                    .expect("a PostgreSQL test database has a schema");
                shape.read_postgres(c, schema).await;
            }
        }
        assert!(!shape.lines.is_empty(), "{} has a schema", db.backend());
        shape
    }

    async fn read_sqlite(&mut self, c: &mut SqliteConnection) {
        let columns: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT m.name, p.name, p.type, p.pk FROM sqlite_master AS m, pragma_table_info(m.name) AS p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(&mut *c)
        .await
        .expect("read SQLite's columns");
        let mut keys: BTreeMap<String, BTreeMap<i64, String>> = BTreeMap::new();
        for (table, column, declared, pk) in columns {
            if IGNORED_TABLES.contains(&table.as_str()) {
                continue;
            }
            self.column(&table, &column, &family("sqlite", &declared));
            if pk > 0 {
                keys.entry(table).or_default().insert(pk, column);
            }
        }
        for (table, key) in keys {
            self.primary_key(&table, &key.into_values().collect::<Vec<_>>());
        }
        // origin: "c" CREATE INDEX, "u" a UNIQUE constraint, "pk" the primary key.
        let indexes: Vec<(String, String, bool, String, bool)> = sqlx::query_as(
            "SELECT m.name, l.name, l.\"unique\", l.origin, l.partial \
             FROM sqlite_master AS m, pragma_index_list(m.name) AS l WHERE m.type = 'table'",
        )
        .fetch_all(&mut *c)
        .await
        .expect("read SQLite's indexes");
        for (table, index, unique, origin, partial) in indexes {
            if IGNORED_TABLES.contains(&table.as_str()) || origin == "pk" {
                continue;
            }
            let names: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(&mut *c)
                    .await
                    .expect("read an index's columns");
            let columns: Vec<String> = names
                .into_iter()
                .map(|name| name.unwrap_or_else(|| "(expression)".to_owned()))
                .collect();
            match origin.as_str() {
                "u" => self.unique_key(&table, &columns),
                _ => self.index(&index, &table, &columns, unique, partial),
            }
        }
        let triggers: Vec<(String, String)> =
            sqlx::query_as("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'")
                .fetch_all(&mut *c)
                .await
                .expect("read SQLite's triggers");
        for (trigger, table) in triggers {
            self.trigger(&trigger, &table);
        }
    }

    async fn read_postgres(&mut self, c: &mut PgConnection, schema: &str) {
        let columns: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
             FROM information_schema.columns WHERE table_schema = $1",
        )
        .bind(schema)
        .fetch_all(&mut *c)
        .await
        .expect("read PostgreSQL's columns");
        for (table, column, declared) in columns {
            if !IGNORED_TABLES.contains(&table.as_str()) {
                self.column(&table, &column, &family("postgres", &declared));
            }
        }
        // One row per index: its key columns in order ("(expression)" for an expression),
        // and whether it backs the primary key or a UNIQUE constraint.
        let indexes: Vec<PgIndex> =
            sqlx::query_as(
                "SELECT CAST(i.relname AS TEXT), CAST(t.relname AS TEXT), \
                 ARRAY(SELECT COALESCE(CAST(a.attname AS TEXT), '(expression)') \
                       FROM unnest(CAST(x.indkey AS int2[])) WITH ORDINALITY AS k(attnum, n) \
                       LEFT JOIN pg_attribute AS a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                       WHERE k.n <= x.indnkeyatts ORDER BY k.n), \
                 x.indisunique, x.indpred IS NOT NULL, x.indisprimary, \
                 EXISTS (SELECT 1 FROM pg_constraint AS u WHERE u.conindid = x.indexrelid AND u.contype = 'u') \
                 FROM pg_index AS x JOIN pg_class AS i ON i.oid = x.indexrelid \
                 JOIN pg_class AS t ON t.oid = x.indrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace \
                 WHERE n.nspname = $1",
            )
            .bind(schema)
            .fetch_all(&mut *c)
            .await
            .expect("read PostgreSQL's indexes");
        for (index, table, columns, unique, partial, primary, constraint) in indexes {
            if IGNORED_TABLES.contains(&table.as_str()) {
                continue;
            }
            if primary {
                self.primary_key(&table, &columns);
            } else if constraint {
                self.unique_key(&table, &columns);
            } else {
                self.index(&index, &table, &columns, unique, partial);
            }
        }
        let triggers: Vec<(String, String)> = sqlx::query_as(
            "SELECT CAST(g.tgname AS TEXT), CAST(t.relname AS TEXT) FROM pg_trigger AS g \
             JOIN pg_class AS t ON t.oid = g.tgrelid JOIN pg_namespace AS n ON n.oid = t.relnamespace \
             WHERE n.nspname = $1 AND NOT g.tgisinternal",
        )
        .bind(schema)
        .fetch_all(&mut *c)
        .await
        .expect("read PostgreSQL's triggers");
        for (trigger, table) in triggers {
            self.trigger(&trigger, &table);
        }
    }

    fn column(&mut self, table: &str, column: &str, family: &str) {
        self.lines
            .insert(format!("column {table}.{column} {family}"));
    }

    fn primary_key(&mut self, table: &str, columns: &[String]) {
        self.lines
            .insert(format!("primary key {table} ({})", columns.join(", ")));
    }

    /// A UNIQUE constraint of the table; the databases name their indexes differently, so it
    /// goes by its columns.
    fn unique_key(&mut self, table: &str, columns: &[String]) {
        self.lines
            .insert(format!("unique key {table} ({})", columns.join(", ")));
    }

    fn index(&mut self, name: &str, table: &str, columns: &[String], unique: bool, partial: bool) {
        let unique = if unique { "unique " } else { "" };
        let partial = if partial { " where …" } else { "" };
        self.lines.insert(format!(
            "{unique}index {name} on {table} ({}){partial}",
            columns.join(", ")
        ));
    }

    fn trigger(&mut self, name: &str, table: &str) {
        self.lines.insert(format!("trigger {name} on {table}"));
    }

    /// Each line only one side has, prefixed with that side: `sqlite: …` or `postgres: …`.
    fn differences(&self, postgres: &Shape) -> BTreeSet<String> {
        let sqlite_only = self
            .lines
            .difference(&postgres.lines)
            .map(|line| format!("sqlite: {line}"));
        let postgres_only = postgres
            .lines
            .difference(&self.lines)
            .map(|line| format!("postgres: {line}"));
        sqlite_only.chain(postgres_only).collect()
    }
}

/// A line only one side has is reported once, with its side; lines both have are not.
#[test]
fn differences_name_the_side_that_has_the_line() {
    let shape = |lines: &[&str]| Shape {
        lines: lines.iter().map(|line| (*line).to_owned()).collect(),
    };
    let sqlite = shape(&["column a.x integer", "trigger t on a"]);
    let postgres = shape(&["column a.x text", "trigger t on a"]);
    assert_eq!(
        sqlite.differences(&postgres),
        BTreeSet::from([
            "postgres: column a.x text".to_owned(),
            "sqlite: column a.x integer".to_owned()
        ])
    );
    for (line, reason) in KNOWN_DIFFERENCES {
        assert!(
            line.starts_with("sqlite: ") || line.starts_with("postgres: "),
            "{line}"
        );
        assert!(!reason.is_empty(), "{line} gives its reason");
    }
}

#[test]
fn each_database_type_maps_to_the_class_its_values_take() {
    for (backend, declared, expected) in [
        ("sqlite", "INTEGER", "integer"),
        ("postgres", "boolean", "integer"),
        ("postgres", "timestamp with time zone", "text"),
        ("postgres", "jsonb", "text"),
        ("postgres", "uuid", "blob"),
        ("sqlite", "BLOB", "blob"),
    ] {
        assert_eq!(family(backend, declared), expected, "{backend} {declared}");
    }
    assert!(family("postgres", "money").starts_with("unmapped"));
}
