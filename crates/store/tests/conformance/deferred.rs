//! Deferred writes and the one-round-trip order intake on both databases: a queued write is seen
//! by the session's next statement (also one sent on the raw connection, as the bulk import's
//! are), goes with a rollback, and still fails its transaction when it is refused; an order's
//! insert and balance lock answer as the two statements apart would.

use crate::event_rewards::member;
use crate::fixtures::{audit_entry, seed_tenant};
use crate::harness::TestDb;
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::ids::{MemberId, OrderId, TenantId};
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::audit::{self, AuditFilter};
use huiyuan_store::backend::Backend;
use huiyuan_store::ledger::{self, BalanceChange};
use huiyuan_store::members;
use huiyuan_store::order_intake::{Intake, RuleWindow, insert_order_locking};
use huiyuan_store::orders::{self, RuleAccrual, StoredOrder};
use huiyuan_store::{StoreError, utc_now};
use uuid::Uuid;

on_both!(
    queued_writes_are_seen_by_the_next_statement,
    queued_writes_go_before_statements_on_the_raw_connection,
    queued_writes_roll_back_with_their_transaction,
    a_refused_queued_write_fails_the_transaction,
    order_intake_inserts_and_locks_in_one_trip,
    order_intake_reads_rule_counters_on_sqlite
);

async fn audit_count(db: &TestDb, tenant: TenantId) -> usize {
    audit::list(
        &mut db.read().await,
        tenant,
        &AuditFilter::default(),
        PageRequest::first(100),
    )
    .await
    .unwrap()
    .items
    .len()
}

fn entry(action: &str) -> AuditEntry {
    audit_entry(Some(Uuid::now_v7()), action, ("order", "o-1"), utc_now())
}

async fn seed_member(db: &TestDb, tenant: TenantId, seq: i64, status: &str) -> MemberId {
    let row = member(seq, None, status);
    let mut s = db.write().await;
    members::insert_member(&mut s, tenant, &row).await.unwrap();
    s.commit().await.unwrap();
    row.id
}

async fn queued_writes_are_seen_by_the_next_statement(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let id = seed_member(&db, tenant, 1, "active").await;
    let now = utc_now();
    let mut s = db.write().await;
    assert_eq!(
        ledger::lock_active_balance(&mut s, tenant, id, now)
            .await
            .unwrap(),
        Some(0)
    );
    // Writes queued: two audit entries and increments of one row.
    audit::defer_append(&mut s, tenant, &entry("a.one"));
    audit::defer_append(&mut s, tenant, &entry("a.two"));
    let change = BalanceChange {
        available: 70,
        earned: 70,
        ..BalanceChange::default()
    };
    ledger::defer_add_to_balance(&mut s, tenant, id, change, now);
    // The same row again before any statement: both increments count (PostgreSQL runs the
    // second in a statement of its own).
    ledger::defer_add_to_balance(&mut s, tenant, id, change, now);
    // The next statement in the same transaction sees them.
    assert_eq!(
        ledger::balance(&mut s, tenant, id).await.unwrap().available,
        140
    );
    let listed = audit::list(
        &mut s,
        tenant,
        &AuditFilter::default(),
        PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(listed.items.len(), 2);
    // Queued again after the flush, and committed by the commit alone.
    audit::defer_append(&mut s, tenant, &entry("a.three"));
    s.commit().await.unwrap();
    assert_eq!(audit_count(&db, tenant).await, 3);
}

/// The bulk import sends statements of one database on the raw connection (its bulk mode); they
/// too come after the writes queued before them. Before the raw connection was reached only
/// through [`huiyuan_store::Session::backend`], which sends the queue first, such a statement ran
/// ahead of the queue: the count below read 0, and the refused write below passed unnoticed.
async fn queued_writes_go_before_statements_on_the_raw_connection(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let mut s = db.write().await;
    audit::defer_append(&mut s, tenant, &entry("bulk.before"));
    let tuning = members::enter_bulk_mode(&mut s).await.unwrap();
    let sql = "SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1";
    let counted: i64 = match s.backend().await.unwrap() {
        Backend::Sqlite(c) => {
            sqlx::query_scalar(sql)
                .bind(tenant.0)
                .fetch_one(&mut *c)
                .await
        }
        Backend::Postgres(c) => {
            sqlx::query_scalar(sql)
                .bind(tenant.0)
                .fetch_one(&mut *c)
                .await
        }
    }
    .unwrap();
    assert_eq!(counted, 1, "the bulk read sees the queued entry");
    members::leave_bulk_mode(&mut s, tuning).await.unwrap();
    s.commit().await.unwrap();

    // A refused queued write fails the bulk statement that follows it, not a later one.
    let twice = entry("bulk.twice");
    let mut s = db.write().await;
    audit::defer_append(&mut s, tenant, &twice);
    audit::defer_append(&mut s, tenant, &twice);
    let error = members::enter_bulk_mode(&mut s)
        .await
        .expect_err("the queue goes first, and fails");
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    drop(s);
    assert_eq!(audit_count(&db, tenant).await, 1);
}

async fn queued_writes_roll_back_with_their_transaction(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let mut s = db.write().await;
    audit::defer_append(&mut s, tenant, &entry("never.one"));
    drop(s);
    // Flushed, then rolled back.
    let mut s = db.write().await;
    audit::defer_append(&mut s, tenant, &entry("never.two"));
    s.flush_deferred().await.unwrap();
    drop(s);
    assert_eq!(audit_count(&db, tenant).await, 0);
}

async fn a_refused_queued_write_fails_the_transaction(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let twice = entry("twice");
    let mut s = db.write().await;
    audit::defer_append(&mut s, tenant, &entry("first"));
    audit::defer_append(&mut s, tenant, &twice);
    audit::defer_append(&mut s, tenant, &twice);
    let error = s.commit().await.expect_err("the same id twice");
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    assert_eq!(audit_count(&db, tenant).await, 0, "nothing of it stays");

    // Refused at the next statement instead, when one comes before the commit.
    let mut s = db.write().await;
    audit::defer_append(&mut s, tenant, &twice);
    audit::defer_append(&mut s, tenant, &twice);
    let error = ledger::balance(&mut s, tenant, MemberId::new())
        .await
        .expect_err("the queue fails first");
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
}

fn order(channel: Uuid, external_id: &str, member: MemberId) -> StoredOrder {
    crate::orders::order(channel, Uuid::now_v7(), external_id, Some(member))
}

async fn order_intake_inserts_and_locks_in_one_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let active = seed_member(&db, tenant, 1, "active").await;
    let erased = seed_member(&db, tenant, 2, "erased").await;
    let channel = Uuid::now_v7();
    let now = utc_now();
    let mut s = db.write().await;
    ledger::credit(
        &mut s,
        tenant,
        active,
        BalanceChange {
            available: 300,
            ..BalanceChange::default()
        },
        now,
    )
    .await
    .unwrap();
    let first = order(channel, "POS-1", active);
    // SQLite reads the (here: no) counters in the same call; PostgreSQL leaves them to the caller.
    let counted = (db.backend() == "sqlite").then(Vec::new);
    assert_eq!(
        insert_order_locking(&mut s, tenant, &first, active, now, &[])
            .await
            .unwrap(),
        Intake::Inserted {
            available: Some(300),
            counted: counted.clone()
        }
    );
    let line = crate::orders::line(1, 1, 5_000);
    orders::defer_order_lines(&mut s, tenant, first.id, std::slice::from_ref(&line)).unwrap();
    // The same channel and external id again: nothing written.
    assert_eq!(
        insert_order_locking(
            &mut s,
            tenant,
            &order(channel, "POS-1", active),
            active,
            now,
            &[]
        )
        .await
        .unwrap(),
        Intake::Duplicate
    );
    // A member no longer active: the order went in, the lock says no (the caller rolls back).
    assert_eq!(
        insert_order_locking(
            &mut s,
            tenant,
            &order(channel, "POS-2", erased),
            erased,
            now,
            &[]
        )
        .await
        .unwrap(),
        Intake::Inserted {
            available: None,
            counted
        }
    );
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_eq!(
        orders::get_order(&mut s, tenant, first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        orders::order_lines(&mut s, tenant, first.id).await.unwrap(),
        vec![line]
    );
}

/// The counters read with the intake (SQLite) equal what [`orders::rule_earned`] reads apart,
/// window by window, in the order asked; this order's own earlier twin of a rule counts.
async fn order_intake_reads_rule_counters_on_sqlite(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let member = seed_member(&db, tenant, 1, "active").await;
    let (capped, other) = (Uuid::now_v7(), Uuid::now_v7());
    let now = utc_now();
    let today = (
        now - time::Duration::hours(1),
        now + time::Duration::hours(1),
    );
    let mut s = db.write().await;
    for (rule, points, hours_ago) in [(capped, 20, 0), (capped, 5, 30), (other, 7, 0)] {
        let row = RuleAccrual {
            id: Uuid::now_v7(),
            member_id: member,
            rule_id: rule,
            order_id: OrderId::new(),
            points,
            occurred_at: now - time::Duration::hours(hours_ago),
        };
        orders::insert_rule_accrual(&mut s, tenant, &row)
            .await
            .unwrap();
    }
    let asked = [
        RuleWindow {
            rule: capped,
            window: Some(today),
        },
        RuleWindow {
            rule: capped,
            window: None,
        },
        RuleWindow {
            rule: other,
            window: Some(today),
        },
        RuleWindow {
            rule: Uuid::now_v7(),
            window: None,
        },
    ];
    let mut apart = Vec::new();
    for counter in &asked {
        apart.push(
            orders::rule_earned(&mut s, tenant, member, counter.rule, counter.window)
                .await
                .unwrap(),
        );
    }
    assert_eq!(apart, vec![20, 25, 7, 0]);
    let intake = insert_order_locking(
        &mut s,
        tenant,
        &order(Uuid::now_v7(), "POS-9", member),
        member,
        now,
        &asked,
    )
    .await
    .unwrap();
    let counted = match intake {
        Intake::Inserted { counted, .. } => counted,
        Intake::Duplicate => panic!("a new order"),
    };
    match db.backend() {
        "sqlite" => assert_eq!(counted, Some(apart)),
        _ => assert_eq!(counted, None),
    }
    s.commit().await.unwrap();
}
