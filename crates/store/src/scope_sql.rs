//! Compiles the domain's [`ScopePredicate`] into SQL, the other interpreter of the one access rule
//! (the first is `ScopePredicate::matches`).

use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::paging::PageRequest;
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

/// Which columns of a table place its rows in the organisation; `None` where the table has no
/// such column, which then counts as NULL.
#[derive(Clone, Copy, Debug)]
pub struct ScopeColumns {
    pub format: Option<&'static str>,
    pub store: Option<&'static str>,
    pub guide: Option<&'static str>,
}

/// Appends ` AND (<predicate>)`.
pub fn push_scope<DB>(
    query: &mut QueryBuilder<DB>,
    predicate: &ScopePredicate,
    columns: &ScopeColumns,
) where
    DB: Database,
    Uuid: for<'t> Encode<'t, DB> + Type<DB>,
{
    if *predicate == ScopePredicate::Any {
        return;
    }
    query.push(" AND ");
    push_predicate(query, predicate, columns);
}

fn push_predicate<DB>(
    query: &mut QueryBuilder<DB>,
    predicate: &ScopePredicate,
    columns: &ScopeColumns,
) where
    DB: Database,
    Uuid: for<'t> Encode<'t, DB> + Type<DB>,
{
    match predicate {
        ScopePredicate::Any => {
            query.push("1=1");
        }
        ScopePredicate::Nothing => {
            query.push("1=0");
        }
        ScopePredicate::FormatIn(ids) => push_in(query, columns.format, ids.iter().map(|id| id.0)),
        ScopePredicate::StoreIn(ids) => push_in(query, columns.store, ids.iter().map(|id| id.0)),
        ScopePredicate::GuideIs(id) => push_in(query, columns.guide, std::iter::once(id.0)),
        ScopePredicate::FormatIsNull => push_is_null(query, columns.format),
        ScopePredicate::StoreIsNull => push_is_null(query, columns.store),
        ScopePredicate::And(parts) => push_joined(query, parts, " AND ", "1=1", columns),
        ScopePredicate::Or(parts) => push_joined(query, parts, " OR ", "1=0", columns),
    }
}

fn push_in<DB>(
    query: &mut QueryBuilder<DB>,
    column: Option<&'static str>,
    ids: impl Iterator<Item = Uuid>,
) where
    DB: Database,
    Uuid: for<'t> Encode<'t, DB> + Type<DB>,
{
    let mut ids = ids.peekable();
    let Some(column) = column.filter(|_| ids.peek().is_some()) else {
        query.push("1=0");
        return;
    };
    query.push(column).push(" IN (");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    query.push(")");
}

fn push_is_null<DB: Database>(query: &mut QueryBuilder<DB>, column: Option<&'static str>) {
    match column {
        Some(column) => query.push(column).push(" IS NULL"),
        None => query.push("1=1"),
    };
}

fn push_joined<DB>(
    query: &mut QueryBuilder<DB>,
    parts: &[ScopePredicate],
    separator: &str,
    empty: &str,
    columns: &ScopeColumns,
) where
    DB: Database,
    Uuid: for<'t> Encode<'t, DB> + Type<DB>,
{
    if parts.is_empty() {
        query.push(empty);
        return;
    }
    query.push("(");
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            query.push(separator);
        }
        push_predicate(query, part, columns);
    }
    query.push(")");
}

/// Appends keyset pagination over the `id` column: ` AND id > $n ORDER BY id LIMIT $m`.
pub fn push_page<DB>(query: &mut QueryBuilder<DB>, page: PageRequest)
where
    DB: Database,
    Uuid: for<'t> Encode<'t, DB> + Type<DB>,
    i64: for<'t> Encode<'t, DB> + Type<DB>,
{
    if let Some(after) = page.after {
        query.push(" AND id > ").push_bind(after);
    }
    query
        .push(" ORDER BY id LIMIT ")
        .push_bind(page.fetch_limit());
}
