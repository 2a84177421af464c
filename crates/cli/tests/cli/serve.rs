//! The `huiyuan` binary end to end: `serve` with zero configuration, graceful shutdown on SIGTERM,
//! and the administration commands against the same data directory.

use crate::process::{BIN, Server};
use serde_json::{Value, json};
use std::process::{Command, Output};

const PASSWORD: &str = "cli-test-password";

/// `huiyuan serve` on `data_dir` with `admin_password` (or none: it then generates one).
fn start(data_dir: &std::path::Path, admin_password: Option<&str>) -> (Server, Vec<String>) {
    Server::start(data_dir, |command| {
        command
            .env_remove("HUIYUAN_ADMIN_PASSWORD")
            .envs(admin_password.map(|password| ("HUIYUAN_ADMIN_PASSWORD", password)));
    })
}

fn run(args: &[&str], data_dir: &std::path::Path) -> Output {
    let output = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("HUIYUAN_ARGON2_MEMORY_KIB", "64")
        .output()
        .expect("run huiyuan");
    assert!(
        output.status.success(),
        "huiyuan {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn login(client: &reqwest::Client, base: &str, body: Value) -> String {
    let response: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["token"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {response}"))
        .to_owned()
}

#[tokio::test]
async fn serve_with_zero_configuration_then_administer_from_the_shell() {
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let (server, lines) = start(data.path(), Some(PASSWORD));
    assert!(
        !lines.iter().any(|l| l.contains(PASSWORD)),
        "a configured password is never logged"
    );
    assert_eq!(
        client
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(
        data.path().join("huiyuan.db").exists(),
        "SQLite database created in the data dir"
    );
    let token = login(
        &client,
        &server.base,
        json!({ "username": "admin", "password": PASSWORD }),
    )
    .await;
    let created = client
        .post(format!("{}/api/v1/channels", server.base))
        .bearer_auth(&token)
        .json(&json!({ "code": "pos-main", "name": "POS", "kind": "pos" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let status = server.terminate();
    assert!(status.success(), "SIGTERM ends serve cleanly: {status:?}");

    // Administration commands work on the same database while the server is down.
    let verified = run(&["verify"], data.path());
    assert!(
        String::from_utf8_lossy(&verified.stdout).contains(": 0 discrepancy(ies)"),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    let migrated = run(&["migrate"], data.path());
    assert!(String::from_utf8_lossy(&migrated.stdout).contains("migrations applied (sqlite)"));
    let tenant = run(
        &["tenant", "create", "--slug", "acme", "--name", "Acme Group"],
        data.path(),
    );
    let tenant_out = String::from_utf8_lossy(&tenant.stdout).to_string();
    let acme_password = tenant_out
        .split("password: ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no password printed: {tenant_out}"))
        .to_owned();
    let key = run(
        &[
            "api-key",
            "create",
            "--tenant",
            "default",
            "--channel",
            "pos-main",
            "--name",
            "Lane 1",
        ],
        data.path(),
    );
    let key_out = String::from_utf8_lossy(&key.stdout).to_string();
    let api_key = key_out
        .lines()
        .find(|l| l.starts_with("hyk_"))
        .unwrap_or_else(|| panic!("no key printed: {key_out}"))
        .to_owned();

    // A second start reuses the tenant (no new password) and honours what the CLI created.
    let (server, lines) = start(data.path(), Some(PASSWORD));
    assert!(
        !lines.iter().any(|l| l.contains("Created tenant")),
        "the default tenant is created only once"
    );
    let me: Value = client
        .get(format!("{}/api/v1/auth/me", server.base))
        .bearer_auth(&api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["actor_kind"], "api_key");
    let acme = login(
        &client,
        &server.base,
        json!({ "tenant": "acme", "username": "admin", "password": acme_password }),
    )
    .await;
    let formats: Value = client
        .get(format!("{}/api/v1/formats", server.base))
        .bearer_auth(&acme)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(formats["items"], json!([]));
    let audit: Value = client
        .get(format!(
            "{}/api/v1/audit-log?action=api_key.created",
            server.base
        ))
        .bearer_auth(
            &login(
                &client,
                &server.base,
                json!({ "username": "admin", "password": PASSWORD }),
            )
            .await,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        audit["items"][0]["actor_kind"], "system",
        "CLI changes are audited as the system actor"
    );
    assert!(server.terminate().success());
}

#[tokio::test]
async fn first_start_without_a_password_generates_and_prints_one() {
    let data = tempfile::tempdir().unwrap();
    let (server, lines) = start(data.path(), None);
    let printed = lines
        .iter()
        .find(|l| l.starts_with("Created tenant 'default'"))
        .expect("password line");
    let password = printed
        .rsplit("password: ")
        .next()
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(password.len(), 20);
    let client = reqwest::Client::new();
    login(
        &client,
        &server.base,
        json!({ "username": "admin", "password": password }),
    )
    .await;
    assert!(server.terminate().success());
}

#[test]
fn openapi_command_prints_the_document() {
    let output = Command::new(BIN).arg("openapi").output().expect("run");
    assert!(output.status.success());
    let document: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(
        document["openapi"]
            .as_str()
            .unwrap_or("")
            .starts_with("3.1")
    );
    assert!(document["paths"]["/api/v1/formats"].is_object());
}

#[test]
fn a_bad_configuration_file_is_refused() {
    let output = Command::new(BIN)
        .args(["migrate", "--config", "/nonexistent/huiyuan.toml"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("does not exist"));
}
