//! `huiyuan`: one binary to run and administer a deployment.
//!
//! - `serve`: the HTTP server (zero configuration: SQLite under `./huiyuan-data`).
//! - `migrate`: apply database migrations and exit.
//! - `openapi`: print the API's OpenAPI document.
//! - `tenant create`: add a tenant with its own admin (SaaS mode).
//! - `api-key create`: issue a channel API key from the shell.
//! - `verify`: prove the points ledger balances.

mod admin;
mod import;
mod rotate_keys;
mod serve;
mod verify;

/// mimalloc instead of glibc's allocator: the writer lane's thread, which every write waits for,
/// spent a sixth of its time in malloc and free (BENCHMARKS.md, orders). The workspace enables
/// mimalloc's `override`, so SQLite's own `malloc`/`free` use it too: glibc's were ~9 % of the
/// SQLite writer's samples in an import, and the switch made a re-import 15–20 % faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use huiyuan_server::config::{FlagOverrides, LogFormat, Settings};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "huiyuan",
    version,
    about = "Omnichannel membership and loyalty platform"
)]
struct Cli {
    /// TOML configuration file (default: ./huiyuan.toml when present).
    #[arg(long, global = true, env = "HUIYUAN_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the embedded SQLite database [default: ./huiyuan-data].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// `postgres://…` selects PostgreSQL; unset means embedded SQLite.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true, value_parser = parse_log_format)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080].
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI 3.1 document of the HTTP API.
    Openapi,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(admin::TenantCommand),
    /// Manage channel API keys.
    #[command(subcommand, name = "api-key")]
    ApiKey(admin::ApiKeyCommand),
    /// Import legacy data.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Prove every points balance equals the sum of its entries; non-zero exit on any mismatch.
    Verify,
    /// Seal personal data with a new key and re-encrypt what the old keys sealed.
    RotateKeys(rotate_keys::RotateKeysArgs),
}

fn parse_log_format(raw: &str) -> Result<LogFormat, String> {
    match raw {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected 'text' or 'json'".to_owned()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!("{}", huiyuan_server::http::openapi_document());
        return ExitCode::SUCCESS;
    }
    let listen = match &cli.command {
        Command::Serve { listen } => *listen,
        _ => None,
    };
    let flags = FlagOverrides {
        listen,
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        log_format: cli.log_format,
    };
    let settings = match Settings::load(cli.config.as_deref(), &flags) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("error: configuration: {error:#}");
            return ExitCode::from(2);
        }
    };
    huiyuan_server::telemetry::init_logging(settings.log_format, &settings.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => serve::run(settings).await,
            Command::Migrate => admin::migrate(settings).await,
            Command::Openapi => Ok(()),
            Command::Tenant(command) => admin::tenant(settings, command).await,
            Command::ApiKey(command) => admin::api_key(settings, command).await,
            Command::Import(command) => import::run(settings, command).await,
            Command::Verify => verify::run(settings).await,
            Command::RotateKeys(args) => rotate_keys::run(settings, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
