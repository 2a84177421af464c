//! Coupon storage: templates round-trip and change without touching their issue count; both
//! quotas are guarded counters; codes and natural keys are unique per tenant; redeeming is a
//! compare-and-set that succeeds once; member lists filter by state and expiry; the expiring list
//! honours scopes; redemptions reverse once; settlement totals net reversals out by period.

use crate::fixtures::seed_tenant;
use crate::harness::{TestDb, walk_pages};
use huiyuan_domain::auth::ScopePredicate;
use huiyuan_domain::coupons::{
    Applicability, AutoIssue, Benefit, CostBearer, CouponTemplate, Stacking, TemplateInput,
    TemplateStatus, Validity,
};
use huiyuan_domain::ids::{FormatId, MemberId, OrderId, StoreId, TenantId};
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::coupons::redemptions::{self as journal, SettlementRecord, StoredRedemption};
use huiyuan_store::coupons::{self, AutoRule, CouponFilter, StoredCoupon, StoredTemplate};
use huiyuan_store::members::{self, StoredMember};
use huiyuan_store::utc_now;
use time::macros::date;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

on_both!(
    templates_round_trip_and_change_without_their_issue_count,
    quotas_are_guarded_counters,
    codes_and_natural_keys_are_unique_per_tenant,
    redeeming_is_a_compare_and_set,
    member_lists_filter_by_state_and_expiry,
    the_expiring_list_honours_scopes,
    redemptions_reverse_once_and_settlement_nets_them,
    birthday_candidates_skip_members_already_given_one,
    redeeming_seeks_the_coupon_by_id,
    member_lists_seek_the_member,
);

fn spec(total_quota: Option<i64>) -> TemplateInput {
    TemplateInput {
        name: "满100减20".into(),
        description: String::new(),
        benefit: Benefit::CashOff {
            amount_fen: 2_000,
            threshold_fen: 10_000,
        },
        validity: Validity::Relative { days: 7 },
        applicability: Applicability::default(),
        stacking: Stacking::Exclusive,
        per_member_quota: Some(2),
        total_quota,
        cost_bearer: CostBearer::Hq,
        refund_reverses: true,
        issuing_format_id: None,
        auto_issue: AutoIssue {
            on_registration: true,
            ..AutoIssue::default()
        },
    }
}

fn stored(spec: TemplateInput, format: Option<Uuid>, store: Option<Uuid>) -> StoredTemplate {
    let now = utc_now();
    StoredTemplate {
        template: CouponTemplate {
            id: Uuid::now_v7(),
            spec,
            status: TemplateStatus::Active,
        },
        format_id: format,
        store_id: store,
        issued_count: 0,
        created_at: now,
        updated_at: now,
    }
}

async fn save(db: &TestDb, tenant: TenantId, template: &StoredTemplate) {
    let mut s = db.write().await;
    coupons::insert_template(&mut s, tenant, template)
        .await
        .unwrap();
    s.commit().await.unwrap();
}

fn member(seq: i64, format: Option<Uuid>) -> StoredMember {
    let now = utc_now();
    StoredMember {
        id: MemberId::new(),
        seq,
        member_no: format!("{seq:09}"),
        status: "active".to_owned(),
        merged_into: None,
        name_enc: None,
        name_index: None,
        gender: None,
        birthday: Some(date!(1990 - 05 - 01)),
        province: None,
        city: None,
        district: None,
        address_enc: None,
        address_index: None,
        id_card_enc: None,
        id_card_index: None,
        preferred_store_id: None,
        source_channel_id: None,
        source_format_id: format,
        source_store_id: None,
        guide_id: None,
        referral_code: format!("CPN{seq:05}"),
        referred_by: None,
        created_at: now,
        updated_at: now,
        erased_at: None,
    }
}

async fn seed_member(db: &TestDb, tenant: TenantId, seq: i64, format: Option<Uuid>) -> MemberId {
    let row = member(seq, format);
    let mut s = db.write().await;
    members::insert_member(&mut s, tenant, &row).await.unwrap();
    s.commit().await.unwrap();
    row.id
}

pub fn coupon(
    member: MemberId,
    template: Uuid,
    code: &str,
    expires_at: OffsetDateTime,
) -> StoredCoupon {
    let now = utc_now();
    StoredCoupon {
        id: Uuid::now_v7(),
        member_id: member,
        code: code.to_owned(),
        template_id: template,
        state: "available".to_owned(),
        starts_at: now - Duration::days(1),
        expires_at,
        source: "manual".to_owned(),
        natural_key: None,
        issuing_format_id: None,
        issued_by: None,
        redemption_id: None,
        used_at: None,
        created_at: now,
        updated_at: now,
    }
}

pub async fn insert(db: &TestDb, tenant: TenantId, c: &StoredCoupon) -> bool {
    let mut s = db.write().await;
    let inserted = coupons::insert_coupon(&mut s, tenant, c).await.unwrap();
    s.commit().await.unwrap();
    inserted
}

async fn templates_round_trip_and_change_without_their_issue_count(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let other = seed_tenant(&db).await;
    let format = FormatId::new().0;
    let template = stored(spec(Some(5)), Some(format), None);
    save(&db, tenant, &template).await;
    let mut s = db.write().await;
    assert!(
        coupons::take_total_quota(&mut s, tenant, template.template.id)
            .await
            .unwrap()
    );
    assert!(
        coupons::take_total_quota(&mut s, tenant, template.template.id)
            .await
            .unwrap()
    );
    let got = coupons::get_template(&mut s, tenant, template.template.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.template, template.template);
    assert_eq!((got.issued_count, got.format_id), (2, Some(format)));
    assert!(
        coupons::get_template(&mut s, other, template.template.id)
            .await
            .unwrap()
            .is_none()
    );
    // A total quota below what was issued is refused; archiving keeps the count.
    let mut lower = got.clone();
    lower.template.spec.total_quota = Some(1);
    assert!(
        !coupons::update_template(&mut s, tenant, &lower)
            .await
            .unwrap()
    );
    let mut archived = got.clone();
    archived.template.status = TemplateStatus::Archived;
    archived.template.spec.name = "旧券".into();
    assert!(
        coupons::update_template(&mut s, tenant, &archived)
            .await
            .unwrap()
    );
    let back = coupons::get_template(&mut s, tenant, template.template.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (back.template.spec.name.as_str(), back.issued_count),
        ("旧券", 2)
    );
    assert!(
        !coupons::take_total_quota(&mut s, tenant, template.template.id)
            .await
            .unwrap(),
        "archived templates issue nothing"
    );
    assert!(
        coupons::auto_templates(&mut s, tenant, AutoRule::Registration)
            .await
            .unwrap()
            .is_empty()
    );
    s.commit().await.unwrap();

    // Lists honour status and scope.
    let merchant = StoreId::new().0;
    let mine = stored(spec(None), Some(format), Some(merchant));
    let hq = stored(spec(None), None, None);
    save(&db, tenant, &mine).await;
    save(&db, tenant, &hq).await;
    let listed = walk_pages(1, |page| {
        let db = &db;
        async move {
            let mut r = db.read().await;
            coupons::list_templates(
                &mut r,
                tenant,
                &ScopePredicate::Any,
                Some(TemplateStatus::Active),
                page,
            )
            .await
        }
    })
    .await;
    assert_eq!(listed.len(), 2);
    let mut r = db.read().await;
    let scoped = coupons::list_templates(
        &mut r,
        tenant,
        &ScopePredicate::StoreIn([StoreId(merchant)].into()),
        None,
        PageRequest::first(50),
    )
    .await
    .unwrap();
    assert_eq!(
        scoped
            .items
            .iter()
            .map(|t| t.template.id)
            .collect::<Vec<_>>(),
        [mine.template.id]
    );
    let auto = coupons::auto_templates(&mut r, tenant, AutoRule::Registration)
        .await
        .unwrap();
    assert_eq!(auto.len(), 2);
    assert!(
        coupons::auto_templates(&mut r, tenant, AutoRule::Birthday)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn quotas_are_guarded_counters(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let template = stored(spec(Some(3)), None, None);
    save(&db, tenant, &template).await;
    let id = template.template.id;
    let (alice, bob) = (MemberId::new(), MemberId::new());
    let mut s = db.write().await;
    let mut taken = 0;
    for _ in 0..5 {
        taken += i32::from(coupons::take_total_quota(&mut s, tenant, id).await.unwrap());
    }
    assert_eq!(taken, 3, "never past the total quota");
    assert!(
        coupons::take_member_quota(&mut s, tenant, id, alice, 2)
            .await
            .unwrap()
    );
    assert!(
        coupons::take_member_quota(&mut s, tenant, id, alice, 2)
            .await
            .unwrap()
    );
    assert!(
        !coupons::take_member_quota(&mut s, tenant, id, alice, 2)
            .await
            .unwrap()
    );
    assert!(
        coupons::take_member_quota(&mut s, tenant, id, bob, 2)
            .await
            .unwrap()
    );
    assert_eq!(
        coupons::member_issued(&mut s, tenant, id, alice)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        coupons::member_issued(&mut s, tenant, id, bob)
            .await
            .unwrap(),
        1
    );
    s.commit().await.unwrap();
}

async fn codes_and_natural_keys_are_unique_per_tenant(db: TestDb) {
    let (tenant, other) = (seed_tenant(&db).await, seed_tenant(&db).await);
    let template = Uuid::now_v7();
    let m = MemberId::new();
    let later = utc_now() + Duration::days(7);
    let mut first = coupon(m, template, "AAAABBBBCCCCDDDD", later);
    first.natural_key = Some(format!("registration:{template}:{m}"));
    assert!(insert(&db, tenant, &first).await);
    let mut same_code = coupon(m, template, "AAAABBBBCCCCDDDD", later);
    same_code.natural_key = None;
    assert!(!insert(&db, tenant, &same_code).await);
    let mut same_key = coupon(m, template, "EEEEFFFFGGGGHHHH", later);
    same_key.natural_key = first.natural_key.clone();
    assert!(!insert(&db, tenant, &same_key).await);
    // Another tenant may hold the same code and key.
    assert!(insert(&db, other, &first).await);
    // Coupons without a natural key do not collide on it.
    assert!(insert(&db, tenant, &coupon(m, template, "JJJJKKKKMMMMNNNN", later)).await);
    assert!(insert(&db, tenant, &coupon(m, template, "PPPPQQQQRRRRSSSS", later)).await);
    let mut r = db.read().await;
    let key = first.natural_key.clone().unwrap();
    let found = coupons::coupon_by_natural_key(&mut r, tenant, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found, first);
    assert_eq!(
        coupons::coupon_by_code(&mut r, tenant, "AAAABBBBCCCCDDDD")
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        coupons::coupon_by_id(&mut r, tenant, first.id)
            .await
            .unwrap(),
        Some(first)
    );
}

async fn redeeming_is_a_compare_and_set(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let m = MemberId::new();
    let c = coupon(
        m,
        Uuid::now_v7(),
        "AAAABBBBCCCCDDDD",
        utc_now() + Duration::days(1),
    );
    assert!(insert(&db, tenant, &c).await);
    let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
    let mut s = db.write().await;
    let now = utc_now();
    assert!(
        coupons::mark_used(&mut s, tenant, c.id, first, now)
            .await
            .unwrap()
    );
    assert!(
        !coupons::mark_used(&mut s, tenant, c.id, second, now)
            .await
            .unwrap()
    );
    assert!(
        !coupons::mark_available(&mut s, tenant, c.id, second, now)
            .await
            .unwrap()
    );
    assert!(
        coupons::mark_available(&mut s, tenant, c.id, first, now)
            .await
            .unwrap()
    );
    assert!(
        !coupons::mark_available(&mut s, tenant, c.id, first, now)
            .await
            .unwrap()
    );
    // Past its expiry, nothing redeems it.
    assert!(
        !coupons::mark_used(&mut s, tenant, c.id, second, c.expires_at)
            .await
            .unwrap()
    );
    assert!(
        coupons::mark_used(&mut s, tenant, c.id, second, now)
            .await
            .unwrap()
    );
    s.commit().await.unwrap();
    let mut r = db.read().await;
    let back = coupons::coupon_by_id(&mut r, tenant, c.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (back.state.as_str(), back.redemption_id),
        ("used", Some(second))
    );
}

async fn member_lists_filter_by_state_and_expiry(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let m = MemberId::new();
    let now = utc_now();
    let template = Uuid::now_v7();
    let available = coupon(m, template, "AAAA000000000001", now + Duration::days(3));
    let soon = coupon(m, template, "AAAA000000000002", now + Duration::days(1));
    let expired = coupon(m, template, "AAAA000000000003", now - Duration::hours(1));
    let used = coupon(m, template, "AAAA000000000004", now + Duration::days(3));
    let someone_else = coupon(
        MemberId::new(),
        template,
        "AAAA000000000005",
        now + Duration::days(3),
    );
    for c in [&available, &soon, &expired, &used, &someone_else] {
        assert!(insert(&db, tenant, c).await);
    }
    let mut s = db.write().await;
    coupons::mark_used(&mut s, tenant, used.id, Uuid::now_v7(), now)
        .await
        .unwrap();
    s.commit().await.unwrap();
    let list = |filter| {
        let db = &db;
        async move {
            walk_pages(1, |page| async move {
                let mut r = db.read().await;
                coupons::member_coupons(&mut r, tenant, m, filter, now, page).await
            })
            .await
            .into_iter()
            .map(|c| c.id)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(list(CouponFilter::Available).await, [available.id, soon.id]);
    assert_eq!(list(CouponFilter::Used).await, [used.id]);
    assert_eq!(list(CouponFilter::Expired).await, [expired.id]);
    assert_eq!(list(CouponFilter::All).await.len(), 4);
    let mut r = db.read().await;
    let summary = coupons::member_summary(&mut r, tenant, m, now)
        .await
        .unwrap();
    assert_eq!(
        (summary.available, summary.used, summary.expired),
        (2, 1, 1)
    );
    assert_eq!(summary.next_expiring.map(|(id, _)| id), Some(soon.id));
}

async fn the_expiring_list_honours_scopes(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (mall, hotel) = (FormatId::new(), FormatId::new());
    let shopper = seed_member(&db, tenant, 1, Some(mall.0)).await;
    let guest = seed_member(&db, tenant, 2, Some(hotel.0)).await;
    let now = utc_now();
    let template = Uuid::now_v7();
    let a = coupon(
        shopper,
        template,
        "BBBB000000000001",
        now + Duration::days(2),
    );
    let b = coupon(guest, template, "BBBB000000000002", now + Duration::days(2));
    let late = coupon(
        shopper,
        template,
        "BBBB000000000003",
        now + Duration::days(20),
    );
    for c in [&a, &b, &late] {
        assert!(insert(&db, tenant, c).await);
    }
    let before = now + Duration::days(7);
    let all = walk_pages(1, |page| {
        let db = &db;
        async move {
            let mut r = db.read().await;
            coupons::expiring_coupons(&mut r, tenant, &ScopePredicate::Any, before, now, page).await
        }
    })
    .await;
    assert_eq!(all.iter().map(|c| c.id).collect::<Vec<_>>(), [a.id, b.id]);
    let mut r = db.read().await;
    let mall_only = coupons::expiring_coupons(
        &mut r,
        tenant,
        &ScopePredicate::FormatIn([mall].into()),
        before,
        now,
        PageRequest::first(50),
    )
    .await
    .unwrap();
    assert_eq!(
        mall_only.items.iter().map(|c| c.id).collect::<Vec<_>>(),
        [a.id]
    );
}

fn redemption(
    coupon: &StoredCoupon,
    format: Uuid,
    store: Option<Uuid>,
    order_ref: &str,
) -> StoredRedemption {
    StoredRedemption {
        id: Uuid::now_v7(),
        coupon_id: coupon.id,
        template_id: coupon.template_id,
        code: coupon.code.clone(),
        format_id: Some(format),
        store_id: store,
        channel_id: Some(Uuid::nil()),
        staff_id: None,
        api_key_id: Some(Uuid::now_v7()),
        order_ref: Some(order_ref.to_owned()),
        order_id: None,
        face_fen: 2_000,
        discount_fen: 2_000,
        created_at: utc_now(),
        reversed_at: None,
        reversal_reason: None,
    }
}

fn record(
    r: &StoredRedemption,
    kind: &str,
    sign: i64,
    issuing: Uuid,
    at: OffsetDateTime,
) -> SettlementRecord {
    SettlementRecord {
        id: Uuid::now_v7(),
        redemption_id: r.id,
        kind: kind.to_owned(),
        coupon_id: r.coupon_id,
        template_id: r.template_id,
        issuing_format_id: issuing,
        redeeming_format_id: r.format_id.unwrap_or_default(),
        bearer_kind: "format".to_owned(),
        bearer_id: Some(issuing),
        face_fen: sign * r.face_fen,
        discount_fen: sign * r.discount_fen,
        occurred_at: at,
    }
}

async fn redemptions_reverse_once_and_settlement_nets_them(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (supermarket, scenic) = (Uuid::now_v7(), Uuid::now_v7());
    let gate = Uuid::now_v7();
    let now = utc_now();
    let c1 = coupon(
        MemberId::new(),
        Uuid::now_v7(),
        "CCCC000000000001",
        now + Duration::days(1),
    );
    let c2 = coupon(
        MemberId::new(),
        c1.template_id,
        "CCCC000000000002",
        now + Duration::days(1),
    );
    let r1 = redemption(&c1, scenic, Some(gate), "T-1");
    let r2 = redemption(&c2, scenic, None, "T-2");
    let mut s = db.write().await;
    journal::insert_redemption(&mut s, tenant, &r1)
        .await
        .unwrap();
    journal::insert_redemption(&mut s, tenant, &r2)
        .await
        .unwrap();
    assert!(
        journal::insert_settlement_record(
            &mut s,
            tenant,
            &record(&r1, "redemption", 1, supermarket, now)
        )
        .await
        .unwrap()
    );
    assert!(
        !journal::insert_settlement_record(
            &mut s,
            tenant,
            &record(&r1, "redemption", 1, supermarket, now)
        )
        .await
        .unwrap()
    );
    assert!(
        journal::insert_settlement_record(
            &mut s,
            tenant,
            &record(&r2, "redemption", 1, supermarket, now)
        )
        .await
        .unwrap()
    );
    let open =
        journal::open_redemptions_for_order(&mut s, tenant, OrderId::new(), Uuid::nil(), "T-1")
            .await
            .unwrap();
    assert_eq!(open, std::slice::from_ref(&r1));
    assert!(
        journal::mark_reversed(&mut s, tenant, r1.id, now, "refund")
            .await
            .unwrap()
    );
    assert!(
        !journal::mark_reversed(&mut s, tenant, r1.id, now, "refund")
            .await
            .unwrap()
    );
    assert!(
        journal::insert_settlement_record(
            &mut s,
            tenant,
            &record(&r1, "reversal", -1, supermarket, now)
        )
        .await
        .unwrap()
    );
    assert!(
        journal::open_redemptions_for_order(&mut s, tenant, OrderId::new(), Uuid::nil(), "T-1")
            .await
            .unwrap()
            .is_empty()
    );
    let back = journal::get_redemption(&mut s, tenant, r1.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.reversal_reason.as_deref(), Some("refund"));
    s.commit().await.unwrap();

    let mut r = db.read().await;
    let totals = journal::settlement_totals(
        &mut r,
        tenant,
        now - Duration::hours(1),
        now + Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(
        (
            totals[0].redemptions,
            totals[0].face_fen,
            totals[0].discount_fen
        ),
        (1, 2_000, 2_000)
    );
    assert_eq!(
        (totals[0].issuing_format_id, totals[0].redeeming_format_id),
        (supermarket, scenic)
    );
    let later = journal::settlement_totals(
        &mut r,
        tenant,
        now + Duration::hours(1),
        now + Duration::hours(2),
    )
    .await
    .unwrap();
    assert!(later.is_empty());
    // The gate sees its own redemption only.
    let mut r = db.read().await;
    let at_gate = journal::list_redemptions(
        &mut r,
        tenant,
        &ScopePredicate::StoreIn([StoreId(gate)].into()),
        &journal::RedemptionFilter::default(),
        PageRequest::first(50),
    )
    .await
    .unwrap();
    assert_eq!(
        at_gate.items.iter().map(|r| r.id).collect::<Vec<_>>(),
        [r1.id]
    );
    assert_eq!(
        journal::coupon_redemptions(&mut r, tenant, c2.id, 10)
            .await
            .unwrap(),
        [r2]
    );
}

async fn birthday_candidates_skip_members_already_given_one(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let (a, b) = (
        seed_member(&db, tenant, 1, None).await,
        seed_member(&db, tenant, 2, None).await,
    );
    let template = Uuid::now_v7();
    let year_start = utc_now() - Duration::days(30);
    let days = ["05-01".to_owned()];
    let mut r = db.read().await;
    let due =
        coupons::birthday_members_without(&mut r, tenant, template, &days, year_start, None, 10)
            .await
            .unwrap();
    assert_eq!(due.len(), 2);
    drop(r);
    let mut given = coupon(
        a,
        template,
        "DDDD000000000001",
        utc_now() + Duration::days(3),
    );
    given.source = "birthday".to_owned();
    assert!(insert(&db, tenant, &given).await);
    let mut r = db.read().await;
    let due =
        coupons::birthday_members_without(&mut r, tenant, template, &days, year_start, None, 10)
            .await
            .unwrap();
    assert_eq!(due, [b]);
    let none = coupons::birthday_members_without(
        &mut r,
        tenant,
        template,
        &["05-02".to_owned()],
        year_start,
        None,
        10,
    )
    .await
    .unwrap();
    assert!(none.is_empty());
}

/// The redemption's compare-and-set finds its coupon through the (tenant, id) index. SQLite plans
/// without statistics; before migration 0027 it chose the (tenant, state, expiry) index and
/// walked every available coupon of the tenant.
async fn redeeming_seeks_the_coupon_by_id(db: TestDb) {
    let plan = sqlite_plan(&db, coupons::MARK_USED.to_owned()).await;
    assert!(
        plan.iter().all(|step| step.contains("coupons_id_idx")),
        "{plan:?}"
    );
}

/// A member's coupon list, filtered by state, reads the member's primary-key range, never the
/// tenant-wide (tenant, state, expiry) index (SQLite; see [`redeeming_seeks_the_coupon_by_id`]).
async fn member_lists_seek_the_member(db: TestDb) {
    for (filter, bound) in [
        (coupons::MEMBER_AVAILABLE, "$3"),
        (coupons::MEMBER_USED, ""),
        (coupons::MEMBER_EXPIRED, "$3"),
    ] {
        let sql = format!(
            "SELECT c.id FROM coupons c WHERE c.tenant_id = $1 AND c.member_id = $2{filter}{bound} \
             ORDER BY c.id LIMIT 20"
        );
        let plan = sqlite_plan(&db, sql).await;
        assert!(
            plan.iter().all(|step| !step.contains("coupons_expiry_idx")),
            "{filter}: {plan:?}"
        );
    }
}

/// SQLite's plan steps for `sql` (parameters bound to placeholder values); empty on PostgreSQL,
/// whose plans depend on statistics an empty test schema does not have.
async fn sqlite_plan(db: &TestDb, sql: String) -> Vec<String> {
    let mut s = db.read().await;
    let huiyuan_store::backend::Backend::Sqlite(c) = s.backend().await.unwrap() else {
        return Vec::new();
    };
    sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(&mut *c)
        .await
        .unwrap()
        .iter()
        .map(|row| sqlx::Row::get::<String, _>(row, "detail"))
        .collect()
}
