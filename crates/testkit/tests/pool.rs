//! The PostgreSQL pool gives every test an empty database, whatever the test before it left.

use huiyuan_testkit::{Backend, TestDatabase};
use sqlx::{Connection, PgConnection};

#[tokio::test]
async fn a_database_comes_back_empty() {
    let Some(first) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let name = first.pg_database().expect("a database").to_owned();
    let mut conn = PgConnection::connect(&first.url().expect("a URL"))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO tenants (tenant_id, slug, name, time_zone, created_at) \
         VALUES (gen_random_uuid(), 'left-behind', 'Left behind', 'UTC', now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // Still connected: giving the database back ends this session too.
    drop(first);
    assert!(
        conn.ping().await.is_err(),
        "the session left open was ended"
    );

    // Freed on drop: claimed again, unless another run on this server got it first (its claim
    // empties it too), as the lowest free one.
    let mut claimed = Vec::new();
    while claimed.len() < 32 {
        let next = TestDatabase::create(Backend::Postgres).await.unwrap();
        let found = next.pg_database() == Some(name.as_str());
        claimed.push(next);
        if found {
            break;
        }
    }
    let second = claimed.last().expect("claimed one");
    assert_eq!(second.pg_database(), Some(name.as_str()), "freed on drop");
    let mut conn = PgConnection::connect(&second.url().unwrap()).await.unwrap();
    let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(tenants, 0, "the rows of the test before are gone");
    let migrations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(migrations > 0, "the migration history stays");
    conn.close().await.unwrap();
}
