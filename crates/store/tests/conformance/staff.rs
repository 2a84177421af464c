//! Roles and staff accounts.

use crate::fixtures::{name, role, seed_format, seed_store, seed_tenant, staff};
use crate::harness::{TestDb, assert_same, walk_pages};
use huiyuan_domain::auth::{DataScope, Permission};
use huiyuan_domain::ids::{RoleId, StaffId};
use huiyuan_store::{StoreError, auth, utc_now};
use std::collections::BTreeSet;
use time::Duration;

on_both!(roles_round_trip, staff_round_trip);

async fn roles_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let mut admin = role("admin", Permission::ALL);
    admin.builtin = true;
    let mut cashier = role(
        "收银员",
        &[Permission::MembersRead, Permission::OrdersWrite],
    );
    let empty = role("nobody", &[]);
    let mut s = db.write().await;
    for r in [&admin, &cashier, &empty] {
        auth::insert_role(&mut s, tenant, r).await.unwrap();
    }
    s.commit().await.unwrap();

    let mut s = db.read().await;
    assert_same(
        &auth::get_role(&mut s, tenant, admin.id)
            .await
            .unwrap()
            .expect("found"),
        &admin,
    );
    assert_same(
        &auth::get_role_by_name(&mut s, tenant, "收银员")
            .await
            .unwrap()
            .expect("by name"),
        &cashier,
    );
    assert_same(
        &auth::get_role(&mut s, tenant, empty.id)
            .await
            .unwrap()
            .unwrap(),
        &empty,
    );
    assert!(
        auth::get_role(&mut s, tenant, RoleId::new())
            .await
            .unwrap()
            .is_none()
    );
    drop(s);
    let listed = walk_pages(2, |page| {
        let db = &db;
        async move { auth::list_roles(&mut db.read().await, tenant, page).await }
    });
    let listed: Vec<RoleId> = listed.await.iter().map(|r| r.id).collect();
    assert_eq!(listed, vec![admin.id, cashier.id, empty.id]);

    cashier.name = name("Cashier");
    cashier.permissions = [Permission::CouponsRedeem].into_iter().collect();
    cashier.updated_at = utc_now() + Duration::seconds(7);
    let mut s = db.write().await;
    auth::update_role(&mut s, tenant, &cashier).await.unwrap();
    s.commit().await.unwrap();
    let mut s = db.read().await;
    assert_same(
        &auth::get_role(&mut s, tenant, cashier.id)
            .await
            .unwrap()
            .unwrap(),
        &cashier,
    );
    assert!(
        auth::get_role_by_name(&mut s, tenant, "收银员")
            .await
            .unwrap()
            .is_none()
    );
    drop(s);

    let mut s = db.write().await;
    let error = auth::insert_role(&mut s, tenant, &role("admin", &[]))
        .await
        .expect_err("name taken");
    assert!(auth::is_role_name_conflict(&error), "{error:?}");
    drop(s);
    let mut s = db.write().await;
    let mut renamed = empty.clone();
    renamed.name = name("admin");
    let error = auth::update_role(&mut s, tenant, &renamed)
        .await
        .expect_err("rename onto a taken name");
    assert!(auth::is_role_name_conflict(&error), "{error:?}");
}

async fn staff_round_trip(db: TestDb) {
    let tenant = seed_tenant(&db).await;
    let format = seed_format(&db, tenant, "retail").await;
    let shop = seed_store(&db, tenant, format.id, "S1").await;
    let (admin, guide_role) = (
        role("admin", Permission::ALL),
        role("guide", &[Permission::MembersRead]),
    );
    let boss = staff("boss", admin.id, DataScope::Tenant);
    let mut guide = staff(
        "guide.li@shop",
        guide_role.id,
        DataScope::OwnMembers {
            store_ids: BTreeSet::from([shop.id]),
        },
    );
    let ops = staff(
        "ops",
        admin.id,
        DataScope::Formats {
            format_ids: BTreeSet::from([format.id]),
        },
    );
    let mut s = db.write().await;
    auth::insert_role(&mut s, tenant, &admin).await.unwrap();
    auth::insert_role(&mut s, tenant, &guide_role)
        .await
        .unwrap();
    auth::insert_staff(&mut s, tenant, &boss, "$argon2id$boss")
        .await
        .unwrap();
    auth::insert_staff(&mut s, tenant, &guide, "$argon2id$guide")
        .await
        .unwrap();
    auth::insert_staff(&mut s, tenant, &ops, "$argon2id$ops")
        .await
        .unwrap();
    s.commit().await.unwrap();

    let mut s = db.read().await;
    for account in [&boss, &guide, &ops] {
        assert_same(
            &auth::get_staff(&mut s, tenant, account.id)
                .await
                .unwrap()
                .expect("found"),
            account,
        );
    }
    assert!(
        auth::get_staff(&mut s, tenant, StaffId::new())
            .await
            .unwrap()
            .is_none()
    );
    let login = auth::find_login(&mut s, tenant, "guide.li@shop")
        .await
        .unwrap()
        .expect("login found");
    assert_eq!(
        (login.staff_id, login.active, login.password_hash.as_str()),
        (guide.id, true, "$argon2id$guide")
    );
    assert!(
        auth::find_login(&mut s, tenant, "nobody")
            .await
            .unwrap()
            .is_none()
    );
    drop(s);
    let listed = walk_pages(1, |page| {
        let db = &db;
        async move { auth::list_staff(&mut db.read().await, tenant, page).await }
    });
    let listed: Vec<StaffId> = listed.await.iter().map(|x| x.id).collect();
    assert_eq!(listed, vec![boss.id, guide.id, ops.id]);

    guide.display_name = name("李导购");
    guide.role_id = admin.id;
    guide.scope = DataScope::Stores {
        store_ids: BTreeSet::from([shop.id]),
    };
    guide.active = false;
    guide.updated_at = utc_now() + Duration::seconds(1);
    let mut changed = guide.clone();
    changed.username = huiyuan_domain::auth::Username::parse("u", "renamed").unwrap(); // never written
    let mut s = db.write().await;
    auth::update_staff(&mut s, tenant, &changed).await.unwrap();
    auth::set_password_hash(&mut s, tenant, boss.id, "$argon2id$new", utc_now())
        .await
        .unwrap();
    s.commit().await.unwrap();
    let mut s = db.read().await;
    assert_same(
        &auth::get_staff(&mut s, tenant, guide.id)
            .await
            .unwrap()
            .unwrap(),
        &guide,
    );
    let login = auth::find_login(&mut s, tenant, "guide.li@shop")
        .await
        .unwrap()
        .unwrap();
    assert!(!login.active);
    let login = auth::find_login(&mut s, tenant, "boss")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(login.password_hash, "$argon2id$new");
    drop(s);

    let mut s = db.write().await;
    let error = auth::insert_staff(
        &mut s,
        tenant,
        &staff("boss", admin.id, DataScope::Tenant),
        "x",
    )
    .await;
    let error = error.expect_err("username taken");
    assert!(auth::is_username_conflict(&error), "{error:?}");
    assert!(!auth::is_role_name_conflict(&error));
    drop(s);
    let mut s = db.write().await;
    let error = auth::insert_staff(
        &mut s,
        tenant,
        &staff("orphan", RoleId::new(), DataScope::Tenant),
        "x",
    )
    .await;
    assert!(
        matches!(error, Err(StoreError::MissingReference)),
        "{error:?}"
    );
}
