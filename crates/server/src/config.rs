//! Configuration: built-in defaults, then a TOML file, then `HUIYUAN_*` environment variables,
//! then command-line flags — each overriding the one before.

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use huiyuan_store::DatabaseSettings;
use huiyuan_store::backend::redact_url;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Address the HTTP server binds.
    pub listen: SocketAddr,
    /// Where the embedded SQLite database (and other local state) lives.
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; unset means SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// PostgreSQL pool size.
    pub max_connections: u32,
    pub log_format: LogFormat,
    /// `tracing` filter, e.g. `info` or `huiyuan=debug,info`.
    pub log_level: String,
    /// How long a staff login lasts.
    pub session_ttl_minutes: u64,
    /// Slug of the tenant created on first start; login without a tenant uses it.
    pub default_tenant: String,
    /// First admin's password (else one is generated and printed once).
    pub admin_password: Option<String>,
    /// Failed logins per account allowed in `login_window_secs` before logins are refused.
    pub login_max_failures: u32,
    pub login_window_secs: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Requests running longer are answered with 503.
    pub request_timeout_secs: u64,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace_secs: u64,
    /// argon2 memory cost in KiB (tests lower it; production keeps the default).
    pub argon2_memory_kib: u32,
    /// The keyring sealing personal data; default `<data_dir>/keyring.json`, created when missing.
    pub keyring_file: Option<PathBuf>,
    /// How long a member code (一客一码) stays valid.
    pub member_code_ttl_secs: u32,
    /// Identifiers shared by many people (a store's counter phone, placeholder numbers), as
    /// `kind:value`; they are stored but never used to match members.
    pub identity_blocked: Vec<String>,
    /// Most identifiers of one kind a member may carry, by kind (overrides the defaults).
    pub identity_limits: std::collections::BTreeMap<String, usize>,
    /// SQLite tuning: keep the writer lane's thread and the writer connection's thread on one CPU
    /// (the last the process may use), the lane as a batch thread, which saves a cross-CPU
    /// wake-up and most thread switches at every statement (BENCHMARKS.md: pinning +15–25 %
    /// orders/s, the batch thread +5–10 %). Off unless asked for: on a host that limits or
    /// reserves CPUs, a thread fixed to one of them surprises whoever set the limits.
    pub sqlite_pin_writer: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("huiyuan-data"),
            database_url: None,
            max_connections: 16,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            session_ttl_minutes: 12 * 60,
            default_tenant: "default".to_owned(),
            admin_password: None,
            login_max_failures: 5,
            login_window_secs: 15 * 60,
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_secs: 30,
            shutdown_grace_secs: 20,
            argon2_memory_kib: 19 * 1024,
            keyring_file: None,
            member_code_ttl_secs: 60,
            identity_blocked: [
                "phone:13800000000",
                "phone:13900000000",
                "phone:13000000000",
                "phone:18888888888",
                "phone:13888888888",
            ]
            .map(str::to_owned)
            .to_vec(),
            identity_limits: std::collections::BTreeMap::new(),
            sqlite_pin_writer: false,
        }
    }
}

/// Secrets stay out of logs.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field(
                "database_url",
                &self.database_url.as_deref().map(redact_url),
            )
            .field("max_connections", &self.max_connections)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("session_ttl_minutes", &self.session_ttl_minutes)
            .field("default_tenant", &self.default_tenant)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "***"),
            )
            .finish_non_exhaustive()
    }
}

/// Flags given on the command line; only those present override.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Default config file, read when present and no other is named.
pub const DEFAULT_CONFIG_FILE: &str = "huiyuan.toml";

impl Settings {
    /// Loads defaults < file < environment < flags. A named file must exist; the default one
    /// is optional.
    pub fn load(config_file: Option<&Path>, flags: &FlagOverrides) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(path) => {
                anyhow::ensure!(
                    path.exists(),
                    "config file {} does not exist",
                    path.display()
                );
                figment = figment.merge(Toml::file_exact(path));
            }
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        let settings: Settings = figment
            .merge(Env::prefixed("HUIYUAN_").only(&Self::ENV_KEYS))
            .merge(Serialized::globals(flags))
            .extract()?;
        settings.validate()?;
        Ok(settings)
    }

    /// The settings an operator may set through `HUIYUAN_<NAME>`.
    const ENV_KEYS: [&'static str; 18] = [
        "listen",
        "data_dir",
        "database_url",
        "max_connections",
        "log_format",
        "log_level",
        "session_ttl_minutes",
        "default_tenant",
        "admin_password",
        "login_max_failures",
        "login_window_secs",
        "max_body_bytes",
        "request_timeout_secs",
        "shutdown_grace_secs",
        "argon2_memory_kib",
        "keyring_file",
        "member_code_ttl_secs",
        "sqlite_pin_writer",
    ];

    /// Longest staff session allowed: a year and a day.
    pub const SESSION_TTL_MAX_MINUTES: u64 = 366 * 24 * 60;

    /// Rejects values that would fail later at run time.
    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.session_ttl_minutes <= Self::SESSION_TTL_MAX_MINUTES,
            "session_ttl_minutes must be at most {}",
            Self::SESSION_TTL_MAX_MINUTES
        );
        anyhow::ensure!(
            self.argon2_memory_kib >= 8,
            "argon2_memory_kib must be at least 8"
        );
        anyhow::ensure!(
            self.max_body_bytes >= 1024,
            "max_body_bytes must be at least 1024"
        );
        anyhow::ensure!(
            self.request_timeout_secs >= 1,
            "request_timeout_secs must be at least 1"
        );
        anyhow::ensure!(
            self.login_max_failures >= 1,
            "login_max_failures must be at least 1"
        );
        Ok(())
    }

    pub fn database(&self) -> DatabaseSettings {
        DatabaseSettings {
            url: self
                .database_url
                .clone()
                .filter(|url| !url.trim().is_empty()),
            data_dir: self.data_dir.clone(),
            max_connections: self.max_connections,
            ..DatabaseSettings::default()
        }
    }

    pub fn keyring_path(&self) -> PathBuf {
        self.keyring_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("keyring.json"))
    }

    pub fn session_ttl(&self) -> time::Duration {
        time::Duration::minutes(
            i64::try_from(self.session_ttl_minutes).unwrap_or(i64::MAX / 60_000),
        )
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail returns its own large error type
mod tests {
    use super::{FlagOverrides, Settings};
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};

    #[test]
    fn flags_beat_environment_beats_file_beats_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "custom.toml",
                "listen = \"127.0.0.1:9000\"\ndata_dir = \"from-file\"\nlog_level = \"debug\"",
            )?;
            jail.set_env("HUIYUAN_DATA_DIR", "from-env");
            jail.set_env("HUIYUAN_DATABASE_URL", "postgres://u:pw@localhost/db");
            let flags = FlagOverrides {
                database_url: Some("postgres://flag/db".into()),
                ..FlagOverrides::default()
            };
            let settings = Settings::load(Some(Path::new("custom.toml")), &flags).expect("load");
            assert_eq!(settings.listen, SocketAddr::from(([127, 0, 0, 1], 9000)));
            assert_eq!(settings.data_dir, PathBuf::from("from-env"));
            assert_eq!(settings.database_url.as_deref(), Some("postgres://flag/db"));
            assert_eq!(settings.log_level, "debug");
            assert_eq!(settings.session_ttl_minutes, 720);
            Ok(())
        });
    }

    #[test]
    fn defaults_need_no_file() {
        figment::Jail::expect_with(|_| {
            let settings = Settings::load(None, &FlagOverrides::default()).expect("load");
            assert_eq!(settings.listen.to_string(), "127.0.0.1:8080");
            assert!(!settings.database().is_postgres());
            Ok(())
        });
    }

    #[test]
    fn the_writer_is_pinned_only_when_asked() {
        figment::Jail::expect_with(|jail| {
            let settings = Settings::load(None, &FlagOverrides::default()).expect("load");
            assert!(!settings.sqlite_pin_writer, "off by default");
            jail.set_env("HUIYUAN_SQLITE_PIN_WRITER", "true");
            let settings = Settings::load(None, &FlagOverrides::default()).expect("load");
            assert!(settings.sqlite_pin_writer);
            Ok(())
        });
    }

    #[test]
    fn a_named_missing_file_is_an_error() {
        assert!(
            Settings::load(
                Some(Path::new("/nonexistent/huiyuan.toml")),
                &FlagOverrides::default()
            )
            .is_err()
        );
    }

    #[test]
    fn out_of_range_values_are_rejected() {
        let settings = Settings {
            session_ttl_minutes: 10_000_000_000,
            ..Settings::default()
        };
        assert!(settings.validate().is_err());
        assert!(Settings::default().validate().is_ok());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let settings = Settings {
            database_url: Some("postgres://app:hunter2@db/huiyuan".into()),
            admin_password: Some("hunter3".into()),
            ..Settings::default()
        };
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2") && !printed.contains("hunter3"));
    }
}
