//! `coupons`: redemption (核销) throughput over HTTP. Sets up a format, a store, a POS channel
//! with a store-bound API key, one 满100减20 template and `members` members, issues `coupons`
//! coupons through `POST /coupons/issue`, then lets `clients` concurrent tills redeem distinct
//! coupons against a two-line cart for `seconds` (or until the coupons run out). Prints
//! redemptions per second and latency percentiles; every answer must be a 201.

use anyhow::{Context, bail, ensure};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Members named in one issue request (the endpoint's limit).
const ISSUE_BATCH: usize = 1_000;

pub async fn run(
    clients: usize,
    duration: Duration,
    members: usize,
    coupons: usize,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    ensure!(
        clients > 0 && members > 0 && coupons > 0,
        "clients, members and coupons must be positive"
    );
    let backend = super::backend_name(database_url.as_deref());
    // Held to the end: dropping the server removes its data directory.
    let super::Admin {
        server: _server,
        base,
        client,
        token: admin,
    } = super::sign_in(database_url, clients).await?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let create = |path: &'static str, body: Value| {
        let (client, base, admin) = (client.clone(), base.clone(), admin.clone());
        async move {
            let (status, text) =
                super::post(&client, &format!("{base}/{path}"), &admin, body).await?;
            if status != 201 {
                bail!("POST {path} failed: {status} {text}");
            }
            let value: Value = serde_json::from_str(&text)?;
            Ok::<Value, anyhow::Error>(value)
        }
    };
    let format = create(
        "formats",
        json!({ "code": format!("bench-{run}"), "name": "Bench" }),
    )
    .await?;
    let store = create(
        "stores",
        json!({ "code": format!("s-{run}"), "name": "Bench store", "format_id": format["id"] }),
    )
    .await?;
    let channel = create("channels", json!({ "code": format!("pos-{run}"), "name": "Bench POS", "kind": "pos", "format_id": format["id"] })).await?;
    let key = create(
        "api-keys",
        json!({ "name": "Bench till", "channel_id": channel["id"], "store_id": store["id"] }),
    )
    .await?;
    let key = key["key"].as_str().context("an API key")?.to_owned();
    let template = create("coupon-templates", json!({
        "name": "满100减20", "benefit": { "kind": "cash_off", "amount_fen": 2000, "threshold_fen": 10000 },
        "validity": { "kind": "relative", "days": 30 }, "stacking": { "mode": "stackable" }, "cost_bearer": { "kind": "hq" },
    }))
    .await?;

    let setup = Instant::now();
    let mut member_ids = Vec::with_capacity(members);
    for n in 0..members {
        let phone = format!("139{:08}", (run as u64 % 1000) * 100_000 + n as u64);
        let body = json!({ "identifiers": [{ "kind": "phone", "value": phone }] });
        let (status, text) = super::post(&client, &format!("{base}/members"), &admin, body).await?;
        ensure!(
            matches!(status, 200 | 201),
            "registering failed: {status} {text}"
        );
        member_ids.push(serde_json::from_str::<Value>(&text)?["id"].clone());
    }
    let mut codes = Vec::with_capacity(coupons);
    'issue: loop {
        for chunk in member_ids.chunks(ISSUE_BATCH) {
            let wanted = (coupons - codes.len()).min(chunk.len());
            let issued = create(
                "coupons/issue",
                json!({ "template_id": template["id"], "member_ids": &chunk[..wanted] }),
            )
            .await?;
            for coupon in issued["coupons"].as_array().context("issued coupons")? {
                codes.push(coupon["code"].as_str().context("a code")?.to_owned());
            }
            if codes.len() >= coupons {
                break 'issue;
            }
        }
    }
    println!(
        "setup: {members} members, {} coupons issued in {:.1} s",
        codes.len(),
        setup.elapsed().as_secs_f64()
    );

    let codes = Arc::new(Mutex::new(codes));
    let (failures, exhausted) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let (client, base, key, codes) = (client.clone(), base.clone(), key.clone(), codes.clone());
        let (failures, exhausted) = (failures.clone(), exhausted.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies_us = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let code = codes.lock().ok().and_then(|mut codes| codes.pop());
                let Some(code) = code else {
                    exhausted.fetch_add(1, Ordering::Relaxed);
                    break;
                };
                n += 1;
                let body = json!({
                    "lines": [{ "sku": "A", "category_path": ["food"], "amount_fen": 8000 },
                              { "sku": "B", "category_path": ["food"], "amount_fen": 4000 }],
                    "order_ref": format!("bench-{worker}-{n}"),
                });
                let sent = Instant::now();
                let outcome = super::post(
                    &client,
                    &format!("{base}/coupons/{code}/redeem"),
                    &key,
                    body,
                )
                .await;
                latencies_us.push(sent.elapsed().as_micros() as u64);
                if !matches!(outcome, Ok((201, _))) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            latencies_us
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile = |p: f64| -> f64 {
        let index = ((latencies.len() as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(latencies.len().saturating_sub(1));
        latencies.get(index).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!("backend: {backend}, clients: {clients}, duration: {elapsed:.1} s");
    println!(
        "redemptions: {}, throughput: {:.0} redemptions/s",
        latencies.len(),
        latencies.len() as f64 / elapsed
    );
    println!(
        "latency ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    if exhausted.load(Ordering::Relaxed) > 0 {
        println!("note: the coupons ran out before the time was up; issue more with --coupons");
    }
    let failed = failures.load(Ordering::Relaxed);
    println!("failures (anything but 201): {failed}");
    if failed > 0 {
        bail!("some redemptions failed");
    }
    Ok(())
}
