//! `huiyuan-bench`: drives a real Huiyuan server over HTTP on loopback and prints what it measured.
//!
//! `import`: a synthetic legacy member file through `huiyuan import members`' code path, twice;
//! prints rows per second and checks that the second run changed nothing (see [`import`]).
//!
//! `orders`: orders through the earning rules at saturation and at half load, beside the
//! database's raw single-row transaction rate (see [`orders`]).
//!
//! `coupons`: N concurrent tills redeem distinct coupons (核销) through the API for a fixed time;
//! prints redemptions per second and latency percentiles (see [`coupons`]).
//!
//! `checkout`: N concurrent tills quote, reserve and confirm checkouts with a coupon and points;
//! prints confirms per second and latency percentiles, verifies the ledger (see [`checkout`]).
//!
//! `writes`: N concurrent clients create channels and stores through the API for a fixed time;
//! prints requests per second, latency percentiles, and counts every 5xx and every "database is
//! locked" answer (both must be zero). The server runs in this process on a fresh database
//! (SQLite in a temporary directory unless `--database-url` names PostgreSQL).

mod checkout;
mod coupons;
mod import;
mod orders;

/// mimalloc instead of glibc's allocator: the writer lane's thread, which every write waits for,
/// spent a sixth of its time in malloc and free (BENCHMARKS.md, orders). The workspace enables
/// mimalloc's `override`, so SQLite's own `malloc`/`free` use it too: glibc's were ~9 % of the
/// SQLite writer's samples in an import, and the switch made a re-import 15–20 % faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use huiyuan_server::config::Settings;
use huiyuan_server::http::service::{build_app, serve};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "huiyuan-bench")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Concurrent organisation writes (channels and stores) through the API.
    Writes {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// `postgres://…` to run against PostgreSQL (use a scratch database: the run adds rows); a
        /// fresh SQLite database otherwise.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Orders through the loyalty engine at saturation and at half of it, against the
    /// database's raw transaction rate; verifies the ledger afterwards.
    Orders {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Length of each phase (raw, saturation, half load).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Members registered before the run; orders cycle through them.
        #[arg(long, default_value_t = 1_000)]
        members: usize,
        /// `postgres://…` to run against PostgreSQL (a scratch database); fresh SQLite otherwise.
        #[arg(long)]
        database_url: Option<String>,
        /// Also run the paced phase at this many orders per second, to compare builds at one
        /// offered rate (half the maximum moves with the maximum).
        #[arg(long)]
        paced_rate: Option<f64>,
    },
    /// Coupon redemptions (核销) through the API by concurrent tills.
    Coupons {
        #[arg(long, default_value_t = 64)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Members the coupons are issued to.
        #[arg(long, default_value_t = 1_000)]
        members: usize,
        /// Coupons issued before the run; the run stops early when they are all redeemed.
        #[arg(long, default_value_t = 30_000)]
        coupons: usize,
        /// `postgres://…` to run against PostgreSQL (use a scratch database: the run adds rows); a
        /// fresh SQLite database otherwise.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Checkouts (quote, reserve, confirm) with a coupon and points by concurrent tills.
    Checkout {
        #[arg(long, default_value_t = 32)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Members checked out (each by one till at a time); at least `clients`.
        #[arg(long, default_value_t = 500)]
        members: usize,
        /// `postgres://…` to run against PostgreSQL (a scratch database); fresh SQLite otherwise.
        #[arg(long)]
        database_url: Option<String>,
    },
    /// Bulk import of a synthetic legacy member file, then the same file again.
    Import {
        /// Rows in the generated file.
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        /// Rows per transaction.
        #[arg(long, default_value_t = huiyuan_server::app::identity::import::DEFAULT_BATCH_ROWS)]
        batch_size: usize,
        /// `postgres://…` to run against PostgreSQL (the run adds a tenant with its members); a
        /// fresh SQLite database otherwise.
        #[arg(long)]
        database_url: Option<String>,
    },
}

const ADMIN_PASSWORD: &str = "bench-admin-password";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // HUIYUAN_BENCH_LOG=sqlx::query=debug logs every statement with its time, for profiling.
    if let Ok(filter) = std::env::var("HUIYUAN_BENCH_LOG") {
        huiyuan_server::telemetry::init_logging(huiyuan_server::config::LogFormat::Json, &filter);
    }
    match Cli::parse().command {
        Command::Writes {
            clients,
            seconds,
            database_url,
        } => writes(clients, Duration::from_secs(seconds), database_url).await,
        Command::Orders {
            clients,
            seconds,
            members,
            database_url,
            paced_rate,
        } => {
            orders::run(orders::Options {
                clients,
                seconds,
                members,
                database_url,
                paced_rate,
            })
            .await
        }
        Command::Coupons {
            clients,
            seconds,
            members,
            coupons,
            database_url,
        } => {
            coupons::run(
                clients,
                Duration::from_secs(seconds),
                members,
                coupons,
                database_url,
            )
            .await
        }
        Command::Checkout {
            clients,
            seconds,
            members,
            database_url,
        } => checkout::run(clients, Duration::from_secs(seconds), members, database_url).await,
        Command::Import {
            rows,
            batch_size,
            database_url,
        } => import::run(rows, batch_size, database_url).await,
    }
}

struct Server {
    address: SocketAddr,
    /// The server's own store, for measurements beside the API.
    store: huiyuan_store::Store,
    _data_dir: tempfile::TempDir,
}

async fn start_server(database_url: Option<String>) -> anyhow::Result<Server> {
    let data_dir = tempfile::tempdir()?;
    let settings = Settings {
        data_dir: data_dir.path().to_path_buf(),
        database_url,
        admin_password: Some(ADMIN_PASSWORD.to_owned()),
        log_level: "warn".to_owned(),
        max_connections: 32,
        // The bench measures the tuned server, as the figures in BENCHMARKS.md do; the setting
        // is off by default for hosts that limit CPUs.
        sqlite_pin_writer: true,
        ..Settings::default()
    };
    let opened = huiyuan_server::open(settings).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let store = opened.state.store.clone();
    let app = build_app(opened.state);
    tokio::spawn(serve(listener, app, std::future::pending()));
    Ok(Server {
        address,
        store,
        _data_dir: data_dir,
    })
}

/// The database a run uses, for its report: a `--database-url` may name either.
fn backend_name(database_url: Option<&str>) -> &'static str {
    match database_url.is_some_and(huiyuan_store::backend::is_postgres_url) {
        true => "postgres",
        false => "sqlite",
    }
}

/// A fresh server and its admin signed in, with a client pooling `clients` connections.
struct Admin {
    server: Server,
    /// `http://…/api/v1`
    base: String,
    client: reqwest::Client,
    token: String,
}

async fn sign_in(database_url: Option<String>, clients: usize) -> anyhow::Result<Admin> {
    let server = start_server(database_url).await?;
    let base = format!("http://{}/api/v1", server.address);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let login: Value = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    let token = anyhow::Context::context(login["token"].as_str(), "login failed")?.to_owned();
    Ok(Admin {
        server,
        base,
        client,
        token,
    })
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<(u16, String)> {
    let response = client
        .post(url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

async fn writes(
    clients: usize,
    duration: Duration,
    database_url: Option<String>,
) -> anyhow::Result<()> {
    let backend = backend_name(database_url.as_deref());
    let server = start_server(database_url).await?;
    let base = format!("http://{}", server.address);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": ADMIN_PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("login failed")?.to_owned();
    // Codes unique to this run, so runs against one PostgreSQL database never collide.
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let (status, body) = post(
        &client,
        &format!("{base}/api/v1/formats"),
        &token,
        json!({ "code": format!("bench-{run}"), "name": "Bench" }),
    )
    .await?;
    if status != 201 {
        bail!("creating the format failed: {status} {body}");
    }
    let format_id = serde_json::from_str::<Value>(&body)?["id"]
        .as_str()
        .context("format id")?
        .to_owned();

    let server_errors = Arc::new(AtomicU64::new(0));
    let locked = Arc::new(AtomicU64::new(0));
    let other_failures = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let (client, base, token, format_id) = (
            client.clone(),
            base.clone(),
            token.clone(),
            format_id.clone(),
        );
        let (server_errors, locked, other_failures) = (
            server_errors.clone(),
            locked.clone(),
            other_failures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies_us = Vec::new();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let (path, body) = if n.is_multiple_of(2) {
                    ("channels", json!({ "code": format!("c-{run}-{worker}-{n}"), "name": "Bench channel", "kind": "pos" }))
                } else {
                    ("stores", json!({ "code": format!("s-{run}-{worker}-{n}"), "name": "Bench store", "format_id": format_id }))
                };
                let sent = Instant::now();
                let outcome = post(&client, &format!("{base}/api/v1/{path}"), &token, body).await;
                latencies_us.push(sent.elapsed().as_micros() as u64);
                match outcome {
                    Ok((201, _)) => {}
                    Ok((status, text)) => {
                        if status >= 500 {
                            server_errors.fetch_add(1, Ordering::Relaxed);
                        } else {
                            other_failures.fetch_add(1, Ordering::Relaxed);
                        }
                        if text.to_ascii_lowercase().contains("locked") {
                            locked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        other_failures.fetch_add(1, Ordering::Relaxed);
                    }
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
        "requests: {}, throughput: {:.0} writes/s",
        latencies.len(),
        latencies.len() as f64 / elapsed
    );
    println!(
        "latency ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        percentile(0.50),
        percentile(0.99),
        percentile(1.0)
    );
    println!(
        "5xx: {}, locked: {}, other failures: {}",
        server_errors.load(Ordering::Relaxed),
        locked.load(Ordering::Relaxed),
        other_failures.load(Ordering::Relaxed)
    );
    if server_errors.load(Ordering::Relaxed)
        + locked.load(Ordering::Relaxed)
        + other_failures.load(Ordering::Relaxed)
        > 0
    {
        bail!("some writes failed");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::backend_name;

    #[test]
    fn reports_name_the_database_the_url_names() {
        assert_eq!(backend_name(None), "sqlite");
        assert_eq!(
            backend_name(Some("sqlite:///tmp/import.sqlite?mode=rwc")),
            "sqlite"
        );
        assert_eq!(
            backend_name(Some("postgres://postgres@127.0.0.1:5432/x")),
            "postgres"
        );
        assert_eq!(
            backend_name(Some("postgresql://postgres@127.0.0.1/x")),
            "postgres"
        );
    }
}
