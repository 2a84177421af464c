//! `huiyuan-bench orders`: the loyalty engine under load, against the database's own speed.
//!
//! 1. Setup through the API: a format, a store, a POS channel with its API key, six earning rules
//!    (base rate, category multiplier, a best-of promotion group of two, a weekday bonus, a SKU
//!    bonus) and `--members` registered members.
//! 2. Raw: `--clients` tasks run single-row insert transactions on the server's own connection
//!    pool (same database, same settings) for `--seconds`: the database's transaction rate.
//! 3. Saturation: `--clients` connections post orders (three lines, a member by id) as fast as
//!    they are answered for `--seconds`: the maximum orders per second and its latencies.
//! 4. Half load: the same clients post on a fixed schedule at half that maximum; latency is
//!    measured from each order's scheduled time, so queueing is never hidden.
//! 5. With `--paced-rate`, the same at that fixed rate (to compare builds at one offered load).
//! 6. The ledger is verified (`huiyuan verify`'s check) and every answer counted.

use crate::{ADMIN_PASSWORD, post, start_server};
use anyhow::{Context, bail, ensure};
use huiyuan_store::{Store, on_backend};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub struct Options {
    pub clients: usize,
    pub seconds: u64,
    pub members: usize,
    pub database_url: Option<String>,
    /// An extra paced phase at this rate (orders per second).
    pub paced_rate: Option<f64>,
}

/// What one load phase saw.
struct Phase {
    completed: u64,
    failures: u64,
    elapsed: f64,
    latencies_us: Vec<u64>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.completed as f64 / self.elapsed
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let n = self.latencies_us.len();
        let index = ((n as f64 * p).ceil() as usize)
            .saturating_sub(1)
            .min(n.saturating_sub(1));
        self.latencies_us.get(index).copied().unwrap_or(0) as f64 / 1000.0
    }
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let backend = super::backend_name(options.database_url.as_deref());
    let server = start_server(options.database_url.clone()).await?;
    let base = format!("http://{}/api/v1", server.address);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.clients)
        .build()?;
    let shop = Shop::set_up(&client, &base, options.members).await?;
    let duration = Duration::from_secs(options.seconds);
    println!(
        "backend: {backend}, clients: {}, members: {}, phase length: {} s",
        options.clients, options.members, options.seconds
    );

    let raw = raw_rate(&server.store, options.clients, duration).await?;
    println!(
        "raw single-row insert transactions: {:.0} tx/s (p50 {:.2} ms, p99 {:.2} ms)",
        raw.rate(),
        raw.percentile_ms(0.5),
        raw.percentile_ms(0.99)
    );

    // What the same clients get from an endpoint that touches no database: the ceiling of the
    // ratio for any API call on this machine, since client and server share its cores.
    let floor = http_floor(
        &client,
        &server.address.to_string(),
        options.clients,
        duration,
    )
    .await?;
    println!(
        "HTTP floor (GET /healthz, no database): {:.0} requests/s (p50 {:.2} ms, p99 {:.2} ms); ceiling of any ratio: {:.2}",
        floor.rate(),
        floor.percentile_ms(0.5),
        floor.percentile_ms(0.99),
        floor.rate() / raw.rate()
    );

    let shop = Arc::new(shop);
    let saturated = orders_phase(&client, &shop, options.clients, duration, None).await?;
    println!(
        "orders at saturation: {:.0} orders/s, p50 {:.2} ms, p99 {:.2} ms, failures {}",
        saturated.rate(),
        saturated.percentile_ms(0.5),
        saturated.percentile_ms(0.99),
        saturated.failures
    );
    let ratio = saturated.rate() / raw.rate();
    println!("ratio orders/raw: {ratio:.2}");

    ensure!(saturated.completed > 0, "no order succeeded");
    let half = saturated.rate() / 2.0;
    let paced = orders_phase(&client, &shop, options.clients, duration, Some(half)).await?;
    println!(
        "orders at half the maximum ({half:.0}/s offered): {:.0} orders/s, p50 {:.2} ms, p99 {:.2} ms, failures {}",
        paced.rate(),
        paced.percentile_ms(0.5),
        paced.percentile_ms(0.99),
        paced.failures
    );

    if let Some(rate) = options.paced_rate {
        let fixed = orders_phase(&client, &shop, options.clients, duration, Some(rate)).await?;
        println!(
            "orders at a fixed {rate:.0}/s offered: {:.0} orders/s, p50 {:.2} ms, p99 {:.2} ms, failures {}",
            fixed.rate(),
            fixed.percentile_ms(0.5),
            fixed.percentile_ms(0.99),
            fixed.failures
        );
        ensure!(fixed.failures == 0, "some orders failed");
    }

    let report = huiyuan_server::app::ledger::verify_all(&server.store)
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    println!(
        "verify: {} member balance(s), {} discrepancy(ies)",
        report.members_checked,
        report.discrepancies.len()
    );
    ensure!(
        report.discrepancies.is_empty(),
        "the ledger does not verify"
    );
    ensure!(
        saturated.failures + paced.failures == 0,
        "some orders failed"
    );
    Ok(())
}

/// Single-row insert transactions on the server's pool: what the database does per second when
/// the application does almost nothing.
async fn raw_rate(store: &Store, clients: usize, duration: Duration) -> anyhow::Result<Phase> {
    let mut session = store.write().await?;
    on_backend!(session, c => sqlx::query(
        "CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT PRIMARY KEY, worker BIGINT NOT NULL, payload TEXT NOT NULL)")
        .execute(&mut *c).await.map(|_| ()))?;
    session.commit().await?;
    let next_id = Arc::new(AtomicU64::new(1));
    let (pool, ids) = (store.clone(), next_id.clone());
    let phase = closed_loop(clients, duration, move |worker| {
        let (store, next_id) = (pool.clone(), ids.clone());
        async move {
            let id = next_id.fetch_add(1, Ordering::Relaxed) as i64;
            let mut session = store.write().await?;
            on_backend!(session, c => sqlx::query(
                "INSERT INTO bench_raw (id, worker, payload) VALUES ($1, $2, $3)")
                .bind(id).bind(worker as i64).bind("order-sized payload of a few dozen bytes")
                .execute(&mut *c).await.map(|_| ()))?;
            session.commit().await?;
            Ok(())
        }
    })
    .await?;
    let mut session = store.write().await?;
    on_backend!(session, c => sqlx::query("DROP TABLE bench_raw").execute(&mut *c).await.map(|_| ()))?;
    session.commit().await?;
    Ok(phase)
}

/// `GET /healthz` (answered without the database) from `clients` tasks for `duration`.
async fn http_floor(
    client: &reqwest::Client,
    address: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Phase> {
    let url = format!("http://{address}/healthz");
    let client = client.clone();
    closed_loop(clients, duration, move |_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client.get(&url).send().await?;
            ensure!(
                response.status().is_success(),
                "GET /healthz: {}",
                response.status()
            );
            response.bytes().await?;
            Ok(())
        }
    })
    .await
}

/// `clients` tasks, each repeating `request(worker)` as soon as the last one answered, for
/// `duration`; any error ends the phase with that error.
async fn closed_loop<F, Fut>(
    clients: usize,
    duration: Duration,
    request: F,
) -> anyhow::Result<Phase>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let sent = Instant::now();
                request(worker).await?;
                latencies.push(sent.elapsed().as_micros() as u64);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Ok(Phase {
        completed: latencies_us.len() as u64,
        failures: 0,
        elapsed,
        latencies_us,
    })
}

/// Posts orders from `clients` tasks for `duration`: as fast as answered, or on a fixed schedule
/// of `rate` orders per second over all clients.
async fn orders_phase(
    client: &reqwest::Client,
    shop: &Arc<Shop>,
    clients: usize,
    duration: Duration,
    rate: Option<f64>,
) -> anyhow::Result<Phase> {
    static PHASE: AtomicU64 = AtomicU64::new(0);
    let phase = PHASE.fetch_add(1, Ordering::Relaxed);
    let failures = Arc::new(AtomicU64::new(0));
    let first_failure = Arc::new(std::sync::Mutex::new(None::<String>));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let (client, shop, failures, first_failure) = (
            client.clone(),
            shop.clone(),
            failures.clone(),
            first_failure.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n: u64 = 0;
            loop {
                // Paced: this worker's n-th order is due at (n × clients + worker) / rate.
                let due = match rate {
                    Some(rate) => {
                        started
                            + Duration::from_secs_f64(
                                (n as f64 * clients as f64 + worker as f64) / rate,
                            )
                    }
                    None => Instant::now(),
                };
                if due >= deadline {
                    break;
                }
                tokio::time::sleep_until(due.into()).await;
                let member = &shop.members[(worker + n as usize * clients) % shop.members.len()];
                let body = shop.order(&format!("bench-{phase}-{worker}-{n}"), member, n);
                n += 1;
                let outcome =
                    post(&client, &format!("{}/orders", shop.base), &shop.key, body).await;
                latencies.push(due.elapsed().as_micros() as u64);
                match outcome {
                    Ok((201, _)) => {}
                    Ok((status, text)) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        first_failure
                            .lock()
                            .map(|mut f| f.get_or_insert(format!("{status} {text}")).clone())
                            .ok();
                    }
                    Err(error) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        first_failure
                            .lock()
                            .map(|mut f| f.get_or_insert(error.to_string()).clone())
                            .ok();
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::new();
    for task in tasks {
        latencies_us.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    if let Ok(Some(failure)) = first_failure.lock().map(|f| f.clone()) {
        println!("first failure: {failure}");
    }
    let failures = failures.load(Ordering::Relaxed);
    Ok(Phase {
        completed: latencies_us.len() as u64 - failures,
        failures,
        elapsed,
        latencies_us,
    })
}

/// The tenant set up for the run.
struct Shop {
    base: String,
    key: String,
    store_id: String,
    members: Vec<String>,
}

impl Shop {
    async fn set_up(client: &reqwest::Client, base: &str, members: usize) -> anyhow::Result<Shop> {
        let login: Value = client
            .post(format!("{base}/auth/login"))
            .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
            .send()
            .await?
            .json()
            .await?;
        let admin = login["token"].as_str().context("login failed")?.to_owned();
        let run = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis();
        let created = |path: &'static str, body: Value| {
            let (client, admin) = (client.clone(), admin.clone());
            let url = format!("{base}/{path}");
            async move {
                let (status, text) = post(&client, &url, &admin, body).await?;
                if status != 201 {
                    bail!("POST {path} failed: {status} {text}");
                }
                anyhow::Ok(serde_json::from_str::<Value>(&text)?)
            }
        };
        let format = created(
            "formats",
            json!({ "code": format!("retail-{run}"), "name": "Retail" }),
        )
        .await?;
        let format_id = format["id"].as_str().context("format id")?.to_owned();
        let store = created(
            "stores",
            json!({ "code": format!("s-{run}"), "name": "Store", "format_id": format_id }),
        )
        .await?;
        let channel = created("channels", json!({ "code": format!("pos-{run}"), "name": "POS", "kind": "pos", "format_id": format_id })).await?;
        let key = created(
            "api-keys",
            json!({ "name": "bench", "channel_id": channel["id"] }),
        )
        .await?;
        let key = key["key"].as_str().context("api key")?.to_owned();
        for rule in [
            json!({ "name": "Base 1 per yuan", "effect": { "kind": "points_per_yuan", "points": 1, "per_fen": 100 } }),
            json!({ "name": "Skincare x2", "priority": 5, "conditions": { "categories": [["beauty", "skincare"]] }, "effect": { "kind": "multiplier", "permille": 2000 } }),
            json!({ "name": "Retail promo x3", "priority": 4, "conditions": { "format_ids": [format_id] }, "effect": { "kind": "multiplier", "permille": 3000 }, "stacking": { "kind": "best_of", "group": "promo" } }),
            json!({ "name": "Small promo x1.5", "priority": 4, "effect": { "kind": "multiplier", "permille": 1500 }, "stacking": { "kind": "best_of", "group": "promo" } }),
            json!({ "name": "Weekend bonus", "conditions": { "weekdays": [6, 7] }, "effect": { "kind": "fixed_bonus", "points": 50 } }),
            json!({ "name": "SKU-B bonus", "conditions": { "skus": ["SKU-B"] }, "effect": { "kind": "fixed_bonus", "points": 20 }, "caps": { "per_member_day_points": 100 } }),
        ] {
            created("earning-rules", rule).await?;
        }
        let mut ids = Vec::with_capacity(members);
        for i in 0..members {
            let phone = format!("139{:08}", (run as u64 % 1000) * 100_000 + i as u64);
            let member = post(
                client,
                &format!("{base}/members"),
                &key,
                json!({ "identifiers": [{ "kind": "phone", "value": phone }] }),
            )
            .await?;
            ensure!(
                member.0 == 201 || member.0 == 200,
                "registering a member failed: {} {}",
                member.0,
                member.1
            );
            ids.push(
                serde_json::from_str::<Value>(&member.1)?["id"]
                    .as_str()
                    .context("member id")?
                    .to_owned(),
            );
        }
        Ok(Shop {
            base: base.to_owned(),
            key,
            store_id: store["id"].as_str().context("store id")?.to_owned(),
            members: ids,
        })
    }

    /// Three lines (one excluded from points), paid by WeChat Pay.
    fn order(&self, external_id: &str, member: &str, n: u64) -> Value {
        let serum = 10_000 + (n % 7) as i64 * 100;
        json!({
            "external_id": external_id,
            "member_id": member,
            "store_id": self.store_id,
            "occurred_at": now_rfc3339(),
            "total_fen": serum * 2 + 5_000 + 3_000,
            "lines": [
                { "line_no": 1, "sku": "SKU-A", "name": "Serum", "category_path": ["beauty", "skincare", "serum"], "quantity": 2, "unit_price_fen": serum, "amount_fen": serum * 2 },
                { "line_no": 2, "sku": "SKU-B", "name": "Tea", "category_path": ["food"], "quantity": 1, "unit_price_fen": 5_000, "amount_fen": 5_000 },
                { "line_no": 3, "sku": "TOB", "name": "Cigarettes", "category_path": ["tobacco"], "quantity": 1, "unit_price_fen": 3_000, "amount_fen": 3_000, "excluded": true },
            ],
            "payments": [{ "method": "wechat_pay", "amount_fen": serum * 2 + 8_000 }],
        })
    }
}

/// Now in RFC 3339 (UTC), as a till stamps an order.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
