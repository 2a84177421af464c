//! Coupon rewards in the points mall (兑换券) on both databases: redeeming one issues a coupon per
//! unit in the same transaction as the points spend; a template quota that is used up refuses
//! the whole redemption and takes nothing; a retry with the same key issues nothing more.

use crate::coupons::cash_off;
use crate::mall::{assert_verifies, available, member_with_points, reward};
use crate::support::{TestApp, id};
use serde_json::json;

on_both!(coupon_rewards_issue_coupons_with_the_points_spend);

async fn coupon_rewards_issue_coupons_with_the_points_spend(app: &TestApp) {
    let admin = app.admin_token().await;
    // At most two coupons of this template per member.
    let template = app
        .post("coupon-templates", &admin, cash_off("满100减20", None))
        .await
        .ok(201);
    let voucher = reward(
        app,
        &admin,
        json!({ "kind": "coupon", "name": "满100减20券", "points": 500, "stock": 10,
            "coupon_template_id": id(&template) }),
    )
    .await;
    assert_eq!(voucher["coupon_template_id"], json!(id(&template)));
    let m = member_with_points(app, &admin, "13800138000", 2000).await;
    let path = format!("rewards/{}/redemptions", id(&voucher));
    let request = json!({ "member_id": m, "quantity": 2 });

    let first = app
        .post_once(&path, &admin, "voucher-1", request.clone())
        .await
        .ok(201);
    assert_eq!(
        (first["state"].as_str(), first["points"].as_i64()),
        (Some("completed"), Some(1000))
    );
    let issued = first["coupons"].as_array().expect("issued coupons");
    assert_eq!(issued.len(), 2, "{first}");
    let replay = app.post_once(&path, &admin, "voucher-1", request).await;
    assert_eq!(replay.header("idempotent-replayed"), "true");
    assert_eq!(replay.ok(201)["coupons"], first["coupons"]);

    let held = app
        .list_all(&format!("members/{m}/coupons?state=available"), &admin, 10)
        .await;
    let mut held_codes: Vec<&str> = held.iter().map(|c| c["code"].as_str().unwrap()).collect();
    let mut issued_codes: Vec<&str> = issued.iter().map(|c| c["code"].as_str().unwrap()).collect();
    held_codes.sort_unstable();
    issued_codes.sort_unstable();
    assert_eq!(held_codes, issued_codes);
    assert!(held.iter().all(|c| c["source"] == "mall"), "{held:?}");
    let shown = app
        .get(&format!("reward-redemptions/{}", id(&first)), &admin)
        .await
        .ok(200);
    assert_eq!(shown["coupons"], first["coupons"]);
    assert_eq!(available(app, &admin, &m).await, 1000);

    // The member's quota of the template is used up: the whole redemption is refused.
    app.post(&path, &admin, json!({ "member_id": m }))
        .await
        .problem(409, "quota_exhausted");
    assert_eq!(available(app, &admin, &m).await, 1000, "no points taken");
    let stock = app
        .get(&format!("rewards/{}", id(&voucher)), &admin)
        .await
        .ok(200)["stock"]
        .as_i64();
    assert_eq!(stock, Some(8), "no stock taken");
    assert_eq!(
        app.list_all(&format!("members/{m}/coupons"), &admin, 10)
            .await
            .len(),
        2
    );

    // An archived template cannot back a new coupon reward.
    app.post(
        &format!("coupon-templates/{}/archive", id(&template)),
        &admin,
        json!({}),
    )
    .await
    .ok(200);
    let refused = app
        .post(
            "rewards",
            &admin,
            json!({ "kind": "coupon", "name": "旧券", "points": 100,
                "coupon_template_id": id(&template) }),
        )
        .await
        .problem(422, "validation_failed");
    assert_eq!(refused["errors"][0]["code"], "archived");
    assert_verifies(app).await;
}
