//! The two migration trees describe one schema: the same tables with the same columns, each table
//! carrying `tenant_id`.

use crate::harness::TestDb;
use huiyuan_store::backend::Backend;
use std::collections::{BTreeMap, BTreeSet};

/// Table name → column name → whether the column is nullable.
type Schema = BTreeMap<String, BTreeMap<String, bool>>;

/// sqlx's own bookkeeping, not part of our schema.
const IGNORED_TABLES: &[&str] = &["_sqlx_migrations"];

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
