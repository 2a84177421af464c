//! Property test of the points ledger on the real databases: random sequences of earning (with
//! and without a return window), spending, manual adjustments, refund claw-backs and the passing
//! of time (releases and expiry) against random policies. After every step the member's balances
//! equal the sums of their entries and the lots hold what the balances say, the available
//! balance never goes below what the overdraft policy allows, a spend succeeds exactly when the
//! points are there, and a claw-back accounts for every point it was asked for.

use crate::support::TestApp;
use huiyuan_domain::auth::Actor;
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::ledger::ExpiryPolicy;
use huiyuan_server::app::ledger::{self, Posting};
use huiyuan_server::app::mutation::Mutation;
use huiyuan_store::ledger::{self as store, StoredPolicy};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;
use time::{Duration, OffsetDateTime};

on_both!(multi_thread: ledger_invariants_hold_over_random_operations);

#[derive(Clone, Debug)]
enum Op {
    Earn(i64),
    Spend(i64),
    Adjust(i64),
    Clawback(i64),
    /// Days pass; due lots are released and expired.
    Advance(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..500).prop_map(Op::Earn),
        3 => (1i64..600).prop_map(Op::Spend),
        1 => (-300i64..300).prop_filter("non-zero", |d| *d != 0).prop_map(Op::Adjust),
        2 => (1i64..400).prop_map(Op::Clawback),
        2 => (0i64..400).prop_map(Op::Advance),
    ]
}

#[derive(Clone, Debug)]
struct Case {
    expiry: ExpiryPolicy,
    pending_days: i64,
    overdraft_limit: i64,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    let expiry = prop_oneof![
        Just(ExpiryPolicy::Never),
        (1u32..200).prop_map(|days| ExpiryPolicy::DaysAfterEarning { days }),
        (0u32..3).prop_map(|months| ExpiryPolicy::EndOfMonth { months }),
        (0u32..2).prop_map(|years| ExpiryPolicy::YearEnd { years }),
    ];
    (
        expiry,
        prop_oneof![Just(0i64), 1i64..15],
        prop_oneof![Just(0i64), 1i64..500],
        prop::collection::vec(op(), 1..30),
    )
        .prop_map(|(expiry, pending_days, overdraft_limit, ops)| Case {
            expiry,
            pending_days,
            overdraft_limit,
            ops,
        })
}

async fn ledger_invariants_hold_over_random_operations(app: &TestApp) {
    let admin = app.admin_token().await;
    let mut runner = TestRunner::new(Config {
        // PROPTEST_CASES=500 for a longer hunt; CI runs a dozen per database.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(12),
        max_shrink_iters: 50,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let phones = std::sync::atomic::AtomicU64::new(13_800_000_001);
    let result = runner.run(&case(), |case| {
        tokio::task::block_in_place(|| {
            handle.block_on(async {
                let phone = phones.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let body =
                    json!({ "identifiers": [{ "kind": "phone", "value": phone.to_string() }] });
                let member = app.post("members", &admin, body).await.ok(201);
                let member: MemberId = member["id"].as_str().unwrap().parse().unwrap();
                run_case(app, member, &case).await
            })
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

async fn run_case(app: &TestApp, member: MemberId, case: &Case) -> Result<(), TestCaseError> {
    let store = &app.state.store;
    let tenant = app.default_tenant.id;
    let start = OffsetDateTime::now_utc();
    let mut m = Mutation::begin(store, tenant, Actor::System, None)
        .await
        .unwrap();
    store::put_policy(
        &mut m.session,
        tenant,
        &StoredPolicy {
            expiry: case.expiry,
            pending_days: case.pending_days,
            fen_per_100_points: 100,
            overdraft_limit: case.overdraft_limit,
            updated_at: start,
        },
    )
    .await
    .unwrap();
    m.commit().await.unwrap();

    let mut now = start;
    for (step, op) in case.ops.iter().enumerate() {
        let mut m = Mutation::begin(store, tenant, Actor::System, None)
            .await
            .unwrap();
        m.now = now;
        let tz = huiyuan_server::app::tenancy::zone::tenant_zone(&mut m.session, tenant)
            .await
            .unwrap();
        let before = store::balance(&mut m.session, tenant, member)
            .await
            .unwrap();
        let posting = Posting {
            reason: format!("step {step}"),
            reference: Some(format!("step:{step}")),
            ..Posting::default()
        };
        let outcome = match *op {
            Op::Earn(points) => ledger::earn(
                &mut m,
                member,
                points,
                points,
                "earn",
                ledger::issuance_account(None),
                &posting,
                &tz,
            )
            .await
            .map(|_| ()),
            Op::Spend(points) => {
                let spent = ledger::spend(
                    &mut m,
                    member,
                    points,
                    "spend",
                    ledger::redemption_account(None),
                    &posting,
                )
                .await;
                prop_assert_eq!(
                    spent.is_ok(),
                    before.available >= points,
                    "spend {} of {:?}",
                    points,
                    before
                );
                spent.map(|_| ())
            }
            Op::Adjust(delta) => {
                let adjusted =
                    ledger::adjust(&mut m, member, delta, "property test", None, &tz).await;
                prop_assert_eq!(
                    adjusted.is_ok(),
                    delta > 0 || before.available >= -delta,
                    "adjust {} of {:?}",
                    delta,
                    before
                );
                adjusted.map(|_| ())
            }
            Op::Clawback(points) => {
                let taken = ledger::clawback(&mut m, member, points, None, &posting)
                    .await
                    .unwrap();
                prop_assert_eq!(
                    taken.reversed + taken.unrecovered,
                    points,
                    "{}",
                    taken.explanation
                );
                Ok(())
            }
            Op::Advance(days) => {
                now += Duration::days(days);
                m.now = now;
                ledger::settle_member(&mut m, member).await.map(|_| ())
            }
        };
        if outcome.is_ok() {
            m.commit().await.unwrap();
        } else {
            // Dropping the transaction rolls it back.
            drop(m);
        }
        let mut session = store.read().await.unwrap();
        let after = store::balance(&mut session, tenant, member).await.unwrap();
        let discrepancies = store::verify_member(&mut session, tenant, member)
            .await
            .unwrap();
        prop_assert!(
            discrepancies.is_empty(),
            "after {:?}: {:?}",
            op,
            discrepancies
        );
        prop_assert!(
            after.available >= -case.overdraft_limit,
            "after {:?}: {:?}",
            op,
            after
        );
        prop_assert!(after.pending >= 0, "after {:?}: {:?}", op, after);
    }
    Ok(())
}
