//! Points mall redemptions after the purchase: shipping and collecting, masking of the shipping
//! address, donations, merchants seeing only their own redemptions, the member profile's `mall`
//! section, and redemptions following a member merge.

use crate::fixtures;
use crate::mall::{assert_verifies, available, goods, member_with_points, reward};
use crate::support::{TestApp, id};
use serde_json::json;

on_both!(
    a_shipment_moves_through_its_states_with_the_address_masked,
    a_collection_is_handed_over_at_the_chosen_store,
    donations_credit_the_donation_account_and_are_final,
    merchants_see_only_their_own_redemptions,
    redemptions_follow_a_merge_and_cancel_to_the_survivor
);
on_both!(multi_thread: parallel_cancellations_return_points_once);

fn ship_to() -> serde_json::Value {
    json!({ "method": "ship", "address": { "recipient": "张三丰", "phone": "+86 138-0013-8000",
        "province": "上海市", "city": "上海市", "district": "黄浦区", "address": "南京东路100号" } })
}

async fn a_shipment_moves_through_its_states_with_the_address_masked(app: &TestApp) {
    let admin = app.admin_token().await;
    let cup = reward(app, &admin, goods("保温杯", 200, Some(5))).await;
    let m = member_with_points(app, &admin, "13800138000", 1000).await;
    let made = app
        .post(
            &format!("rewards/{}/redemptions", id(&cup)),
            &admin,
            json!({ "member_id": m, "quantity": 2, "delivery": ship_to() }),
        )
        .await
        .ok(201);
    assert_eq!(made["points"], 400);
    assert_eq!(made["delivery"]["address"]["phone"], "+8613800138000");
    assert_eq!(made["delivery"]["address_masked"], false);
    let clerk = fixtures::staff_login(
        app,
        &admin,
        "clerk",
        &["members:read", "mall:write"],
        json!({ "kind": "tenant" }),
    )
    .await;
    let path = format!("reward-redemptions/{}", id(&made));
    let seen = app.get(&path, &clerk).await.ok(200);
    assert_eq!(seen["delivery"]["address_masked"], true);
    assert_eq!(seen["delivery"]["address"]["recipient"], "张**");
    assert_eq!(seen["delivery"]["address"]["phone"], "138****8000");
    assert!(!seen.to_string().contains("南京东路"), "{seen}");

    app.post(&format!("{path}/collect"), &clerk, json!({}))
        .await
        .problem(409, "conflict");
    app.post(
        &format!("{path}/ship"),
        &clerk,
        json!({ "carrier": "顺丰" }),
    )
    .await
    .problem(422, "validation_failed");
    let shipped = app
        .post(
            &format!("{path}/ship"),
            &clerk,
            json!({ "carrier": "顺丰", "tracking_no": "SF123" }),
        )
        .await
        .ok(200);
    assert_eq!(shipped["state"], "shipped");
    assert_eq!(shipped["shipment"]["tracking_no"], "SF123");
    let done = app
        .post(&format!("{path}/complete"), &admin, json!({}))
        .await
        .ok(200);
    assert!(done["completed_at"].is_string());
    let problem = app
        .post(&format!("{path}/cancel"), &admin, json!({}))
        .await
        .problem(409, "conflict");
    assert_eq!(problem["errors"][0]["code"], "invalid_transition");
    assert_eq!(available(app, &admin, &m).await, 600);

    let profile = app.get(&format!("members/{m}"), &admin).await.ok(200);
    let section = &profile["summaries"]["mall"];
    assert_eq!(section["open_redemptions"], 0);
    assert_eq!(section["last_redemption"]["state"], "completed");
    let listed = app
        .list_all(
            &format!("members/{m}/reward-redemptions?state=completed"),
            &admin,
            5,
        )
        .await;
    assert_eq!(listed.len(), 1);

    // Erasure removes the sealed address.
    app.post(
        &format!("members/{m}/erase"),
        &admin,
        json!({ "reason": "member_request" }),
    )
    .await
    .ok(200);
    let erased = app.get(&path, &admin).await.ok(200);
    assert_eq!(erased["delivery"]["address"], serde_json::Value::Null);
}

async fn a_collection_is_handed_over_at_the_chosen_store(app: &TestApp) {
    let admin = app.admin_token().await;
    let format = fixtures::format(app, &admin, "retail").await;
    let (s1, s2) = (
        fixtures::store(app, &admin, &format, "s1").await,
        fixtures::store(app, &admin, &format, "s2").await,
    );
    let mut body = goods("雨伞", 150, Some(2));
    body["fulfilment"] = json!("collect");
    let umbrella = reward(app, &admin, body).await;
    let m = member_with_points(app, &admin, "13800138000", 1000).await;
    let path = format!("rewards/{}/redemptions", id(&umbrella));
    app.post(
        &path,
        &admin,
        json!({ "member_id": m, "delivery": ship_to() }),
    )
    .await
    .problem(422, "validation_failed");
    let made = app
        .post(
            &path,
            &admin,
            json!({ "member_id": m, "delivery": { "method": "collect", "store_id": id(&s1) } }),
        )
        .await
        .ok(201);
    let s2_staff = fixtures::staff_login(
        app,
        &admin,
        "s2staff",
        &["members:read", "mall:write"],
        json!({ "kind": "stores", "store_ids": [id(&s2)] }),
    )
    .await;
    let s1_staff = fixtures::staff_login(
        app,
        &admin,
        "s1staff",
        &["members:read", "mall:write"],
        json!({ "kind": "stores", "store_ids": [id(&s1)] }),
    )
    .await;
    let redemption = format!("reward-redemptions/{}", id(&made));
    app.post(&format!("{redemption}/collect"), &s2_staff, json!({}))
        .await
        .problem(404, "not_found");
    let listed = app
        .list_all(
            &format!("reward-redemptions?store_id={}&state=pending", id(&s1)),
            &s1_staff,
            5,
        )
        .await;
    assert_eq!(listed.len(), 1);
    let collected = app
        .post(&format!("{redemption}/collect"), &s1_staff, json!({}))
        .await
        .ok(200);
    assert_eq!(collected["collected_store_id"], json!(id(&s1)));
    app.post(&format!("{redemption}/cancel"), &admin, json!({}))
        .await
        .problem(409, "conflict");
}

async fn donations_credit_the_donation_account_and_are_final(app: &TestApp) {
    let admin = app.admin_token().await;
    let charity = reward(
        app,
        &admin,
        json!({ "kind": "donation", "name": "希望小学", "points": 100 }),
    )
    .await;
    assert_eq!(charity["stock"], serde_json::Value::Null);
    let m = member_with_points(app, &admin, "13800138000", 1000).await;
    let made = app
        .post(
            &format!("rewards/{}/redemptions", id(&charity)),
            &admin,
            json!({ "member_id": m, "quantity": 5 }),
        )
        .await
        .ok(201);
    assert_eq!(
        (made["state"].as_str(), made["points_account"].as_str()),
        (Some("completed"), Some("donation:group"))
    );
    let entries = app
        .get(&format!("members/{m}/points/entries"), &admin)
        .await
        .ok(200);
    let last = entries["items"]
        .as_array()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        (
            last["kind"].as_str(),
            last["credit_account"].as_str(),
            last["points"].as_i64()
        ),
        (Some("donate"), Some("donation:group"), Some(-500))
    );
    app.post(
        &format!("reward-redemptions/{}/cancel", id(&made)),
        &admin,
        json!({}),
    )
    .await
    .problem(409, "conflict");
    assert_eq!(available(app, &admin, &m).await, 500);
    assert_verifies(app).await;
}

async fn merchants_see_only_their_own_redemptions(app: &TestApp) {
    let admin = app.admin_token().await;
    let mall = fixtures::format(app, &admin, "mall").await;
    let merchant = |code: &'static str| {
        let body =
            json!({ "format_id": id(&mall), "code": code, "name": code, "kind": "merchant" });
        app.post("stores", &admin, body)
    };
    let (a, b) = (merchant("ma").await.ok(201), merchant("mb").await.ok(201));
    let m = member_with_points(app, &admin, "13800138000", 5000).await;
    let mut made = Vec::new();
    for shop in [&a, &b] {
        let mut body = goods("商户礼品", 100, None);
        body["supplier_store_id"] = json!(id(shop));
        body["fulfilment"] = json!("collect");
        let gift = reward(app, &admin, body).await;
        let redemption = app
            .post(
                &format!("rewards/{}/redemptions", id(&gift)),
                &admin,
                json!({ "member_id": m, "delivery": { "method": "collect", "store_id": id(shop) } }),
            )
            .await
            .ok(201);
        assert_eq!(redemption["supplier_store_id"], json!(id(shop)));
        assert_eq!(redemption["spending_format_id"], json!(id(&mall)));
        made.push(redemption);
    }
    let group = reward(app, &admin, goods("集团礼品", 100, None)).await;
    app.post(
        &format!("rewards/{}/redemptions", id(&group)),
        &admin,
        json!({ "member_id": m, "delivery": ship_to() }),
    )
    .await
    .ok(201);
    let staff_a = fixtures::staff_login(
        app,
        &admin,
        "shop-a",
        &["members:read", "mall:write"],
        json!({ "kind": "stores", "store_ids": [id(&a)] }),
    )
    .await;
    let seen = app.list_all("reward-redemptions", &staff_a, 5).await;
    assert_eq!(
        seen.iter().map(|r| id(r)).collect::<Vec<_>>(),
        [id(&made[0])]
    );
    app.get(&format!("reward-redemptions/{}", id(&made[1])), &staff_a)
        .await
        .problem(404, "not_found");
    assert_eq!(app.list_all("reward-redemptions", &admin, 2).await.len(), 3);
}

async fn redemptions_follow_a_merge_and_cancel_to_the_survivor(app: &TestApp) {
    let admin = app.admin_token().await;
    let cup = reward(app, &admin, goods("保温杯", 300, Some(5))).await;
    let source = member_with_points(app, &admin, "13800138000", 1000).await;
    let survivor = member_with_points(app, &admin, "13900139000", 200).await;
    let made = app
        .post(
            &format!("rewards/{}/redemptions", id(&cup)),
            &admin,
            json!({ "member_id": source, "delivery": ship_to() }),
        )
        .await
        .ok(201);
    app.post(
        &format!("members/{survivor}/merge"),
        &admin,
        json!({ "source_member_id": source }),
    )
    .await
    .ok(200);
    let moved = app
        .list_all(&format!("members/{survivor}/reward-redemptions"), &admin, 5)
        .await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["member_id"], json!(survivor));
    assert_eq!(available(app, &admin, &survivor).await, 900);
    app.post(
        &format!("reward-redemptions/{}/cancel", id(&made)),
        &admin,
        json!({}),
    )
    .await
    .ok(200);
    assert_eq!(available(app, &admin, &survivor).await, 1200);
    assert_verifies(app).await;
}

async fn parallel_cancellations_return_points_once(app: &TestApp) {
    let admin = app.admin_token().await;
    let mut body = goods("保温杯", 250, Some(1));
    body["limit_total"] = json!(1);
    let cup = reward(app, &admin, body).await;
    let m = member_with_points(app, &admin, "13800138000", 1000).await;
    let made = app
        .post(
            &format!("rewards/{}/redemptions", id(&cup)),
            &admin,
            json!({ "member_id": m, "delivery": ship_to() }),
        )
        .await
        .ok(201);
    let url = app.url(&format!("reward-redemptions/{}/cancel", id(&made)));
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (client, url, token) = (app.client.clone(), url.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(available(app, &admin, &m).await, 1000);
    let again = app
        .post(
            &format!("rewards/{}/redemptions", id(&cup)),
            &admin,
            json!({ "member_id": m, "delivery": ship_to() }),
        )
        .await
        .ok(201);
    assert_eq!(
        again["points"], 250,
        "stock and the member's limit came back exactly once"
    );
    assert_verifies(app).await;
}
