//! `checkout`: checkout throughput over HTTP. Sets up a format, a store, a POS channel with a
//! store-bound API key, one 满100减20 template and `members` members, each granted points and
//! issued one coupon; then `clients` concurrent tills each take a free member and do quote →
//! reserve → confirm (the first checkout of a member uses its coupon and 100 points, later ones
//! 100 points) for `seconds`. Prints confirms per second, p50/p99 of reserve and confirm, and
//! verifies the ledger afterwards; every answer must be a success.

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Members named in one issue request (the endpoint's limit).
const ISSUE_BATCH: usize = 1_000;
/// Points each member starts with: enough for every checkout of a run.
const GRANT: i64 = 1_000_000;

fn percentile(sorted: &[u64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or(0) as f64 / 1000.0
}

pub async fn run(
    clients: usize,
    duration: Duration,
    members: usize,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    ensure!(
        clients > 0 && members >= clients,
        "clients must be positive and members at least clients"
    );
    let backend = super::backend_name(database_url.as_deref());
    let super::Admin {
        server,
        base,
        client,
        token: admin,
    } = super::sign_in(database_url, clients).await?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let create = |path: String, body: Value| {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        async move {
            let (status, text) =
                super::post(&client, &format!("{base}/{path}"), &admin, body).await?;
            if !matches!(status, 200 | 201) {
                bail!("POST {path} failed: {status} {text}");
            }
            Ok::<Value, anyhow::Error>(serde_json::from_str(&text)?)
        }
    };
    let format = create(
        "formats".into(),
        json!({ "code": format!("bench-{run}"), "name": "Bench" }),
    )
    .await?;
    let store = create(
        "stores".into(),
        json!({ "code": format!("s-{run}"), "name": "Bench store", "format_id": format["id"] }),
    )
    .await?;
    let channel = create("channels".into(), json!({ "code": format!("pos-{run}"), "name": "Bench POS", "kind": "pos", "format_id": format["id"] })).await?;
    let key = create(
        "api-keys".into(),
        json!({ "name": "Bench till", "channel_id": channel["id"], "store_id": store["id"] }),
    )
    .await?;
    let key = key["key"].as_str().context("an API key")?.to_owned();
    let template = create("coupon-templates".into(), json!({
        "name": "满100减20", "benefit": { "kind": "cash_off", "amount_fen": 2000, "threshold_fen": 10000 },
        "validity": { "kind": "relative", "days": 30 }, "stacking": { "mode": "stackable" }, "cost_bearer": { "kind": "hq" },
    }))
    .await?;

    let setup = Instant::now();
    let mut member_ids = Vec::with_capacity(members);
    for n in 0..members {
        let phone = format!("137{:08}", (run as u64 % 1000) * 100_000 + n as u64);
        let body = json!({ "identifiers": [{ "kind": "phone", "value": phone }] });
        let member = create("members".into(), body).await?;
        let id = member["id"].as_str().context("member id")?.to_owned();
        create(
            format!("members/{id}/points/adjustments"),
            json!({ "points": GRANT, "reason": "bench grant" }),
        )
        .await?;
        member_ids.push(id);
    }
    let mut slots = Vec::with_capacity(members);
    for chunk in member_ids.chunks(ISSUE_BATCH) {
        let issued = create(
            "coupons/issue".into(),
            json!({ "template_id": template["id"], "member_ids": chunk }),
        )
        .await?;
        for coupon in issued["coupons"].as_array().context("issued coupons")? {
            let member = coupon["member_id"].as_str().context("holder")?.to_owned();
            let code = coupon["code"].as_str().context("a code")?.to_owned();
            slots.push((member, Some(code)));
        }
    }
    println!(
        "setup: {members} members with points and a coupon each in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // A member is checked out by one till at a time; its coupon goes with its first checkout.
    let slots = Arc::new(Mutex::new(slots));
    let failures = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let (client, base, key, slots) = (client.clone(), base.clone(), key.clone(), slots.clone());
        let failures = failures.clone();
        tasks.push(tokio::spawn(async move {
            let (mut reserve_us, mut confirm_us) = (Vec::new(), Vec::new());
            let mut n = 0u64;
            while Instant::now() < deadline {
                let Some((member, code)) = slots.lock().ok().and_then(|mut s| s.pop()) else {
                    break;
                };
                n += 1;
                let body = json!({
                    "member_id": member, "points": 100,
                    "coupon_codes": code.iter().collect::<Vec<_>>(),
                    "lines": [{ "sku": "A", "category_path": ["food"], "amount_fen": 8000 },
                              { "sku": "B", "category_path": ["food"], "amount_fen": 4000 }],
                });
                let quoted = super::post(
                    &client,
                    &format!("{base}/checkouts/quote"),
                    &key,
                    body.clone(),
                )
                .await;
                let sent = Instant::now();
                let reserved = super::post(&client, &format!("{base}/checkouts"), &key, body).await;
                reserve_us.push(sent.elapsed().as_micros() as u64);
                let id = match (&quoted, &reserved) {
                    (Ok((200, _)), Ok((201, text))) => serde_json::from_str::<Value>(text)
                        .ok()
                        .and_then(|v| v["id"].as_str().map(str::to_owned)),
                    _ => None,
                };
                let Some(id) = id else {
                    failures.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut s) = slots.lock() {
                        s.insert(0, (member, code));
                    }
                    continue;
                };
                let sent = Instant::now();
                let confirmed = super::post(
                    &client,
                    &format!("{base}/checkouts/{id}/confirm"),
                    &key,
                    json!({ "order_ref": format!("bench-{worker}-{n}") }),
                )
                .await;
                confirm_us.push(sent.elapsed().as_micros() as u64);
                if !matches!(confirmed, Ok((200, _))) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                if let Ok(mut s) = slots.lock() {
                    s.insert(0, (member, None));
                }
            }
            (reserve_us, confirm_us)
        }));
    }
    let (mut reserves, mut confirms) = (Vec::new(), Vec::new());
    for task in tasks {
        let (r, c) = task.await?;
        reserves.extend(r);
        confirms.extend(c);
    }
    let elapsed = started.elapsed().as_secs_f64();
    reserves.sort_unstable();
    confirms.sort_unstable();
    println!("backend: {backend}, clients: {clients}, duration: {elapsed:.1} s");
    println!(
        "checkouts confirmed: {}, throughput: {:.0} confirms/s (each after a quote and a reserve)",
        confirms.len(),
        confirms.len() as f64 / elapsed
    );
    println!(
        "reserve ms: p50 {:.2}, p99 {:.2}; confirm ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        percentile(&reserves, 0.50),
        percentile(&reserves, 0.99),
        percentile(&confirms, 0.50),
        percentile(&confirms, 0.99),
        percentile(&confirms, 1.0)
    );
    let report = huiyuan_server::app::ledger::verify_all(&server.store)
        .await
        .map_err(|e| anyhow::anyhow!("verify failed: {e:?}"))?;
    println!(
        "ledger verified: {} members, {} discrepancies",
        report.members_checked,
        report.discrepancies.len()
    );
    let failed = failures.load(Ordering::Relaxed);
    println!("failures: {failed}");
    if failed > 0 || !report.discrepancies.is_empty() {
        bail!("some checkouts failed or the ledger does not verify");
    }
    Ok(())
}
