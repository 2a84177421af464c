//! Checkouts in parallel, on both databases: 20 checkouts wanting one coupon → exactly one holds
//! it, the others 409 `coupon_reserved`; ten checkouts of 300 points on a balance of 1,000 →
//! exactly three, the others 422 `insufficient_points`, never a negative balance; `verify` after.

use crate::checkout::{cart, coupon_for, coupon_state, till};
use crate::mall::{assert_verifies, available, member_with_points};
use crate::support::TestApp;
use serde_json::{Value, json};

on_both!(multi_thread: parallel_checkouts_hold_one_coupon_once, parallel_checkouts_never_overdraw_a_balance);

/// Fires the requests at once; answers their statuses and error codes.
async fn fire(app: &TestApp, token: &str, bodies: Vec<Value>) -> Vec<(u16, String)> {
    let mut tasks = Vec::new();
    for body in bodies {
        let (client, url, token) = (app.client.clone(), app.url("checkouts"), token.to_owned());
        tasks.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body["code"].as_str().unwrap_or("").to_owned())
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

async fn parallel_checkouts_hold_one_coupon_once(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 0).await;
    let code = coupon_for(app, &t.admin, &member).await;
    let body = json!({ "member_id": member, "lines": cart(12000), "coupon_codes": [code] });
    let answers = fire(app, &t.key, vec![body; 20]).await;
    let won = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(won, 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, code)| *s == 201 || (*s == 409 && code == "coupon_reserved")),
        "{answers:?}"
    );
    assert_eq!(coupon_state(app, &t.admin, &member).await, "reserved");
}

async fn parallel_checkouts_never_overdraw_a_balance(app: &TestApp) {
    let t = till(app).await;
    let member = member_with_points(app, &t.admin, "13800138000", 1000).await;
    let body = json!({ "member_id": member, "lines": cart(100_000), "points": 300 });
    let answers = fire(app, &t.key, vec![body; 10]).await;
    let won = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(won, 3, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, code)| *s == 201 || (*s == 422 && code == "insufficient_points")),
        "{answers:?}"
    );
    assert_eq!(available(app, &t.admin, &member).await, 100);
    assert_verifies(app).await;
}
