//! `huiyuan rotate-keys` end to end: members registered through a running server, the server
//! stopped, the keys rotated, every sealed value in the database now under the new key, and the
//! restarted server showing the same decrypted data and still finding members by phone.

use crate::process::{BIN, Server};
use huiyuan_store::reseal::{self, RowKey};
use huiyuan_store::{DatabaseSettings, Store};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};

const PASSWORD: &str = "keys-test-password";

/// `huiyuan serve` on the data directory with the admin password, once it listens.
fn start(data_dir: &Path) -> Server {
    let (server, _) = Server::start(data_dir, |command| {
        command.env("HUIYUAN_ADMIN_PASSWORD", PASSWORD);
    });
    server
}

fn huiyuan(args: &[&str], data_dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("HUIYUAN_ARGON2_MEMORY_KIB", "64")
        .output()
        .expect("run huiyuan")
}

/// Runs `rotate-keys` with `extra` flags; answers its standard output after checking it worked.
fn rotate(data_dir: &Path, extra: &[&str]) -> String {
    let output = huiyuan(&[&["rotate-keys"], extra].concat(), data_dir);
    assert!(
        output.status.success(),
        "rotate-keys failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

struct Api {
    client: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn connect(server: &Server) -> Self {
        let client = reqwest::Client::new();
        let login: Value = client
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&json!({ "username": "admin", "password": PASSWORD }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            client,
            base: server.base.clone(),
            token: login["token"].as_str().expect("a token").to_owned(),
        }
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}/api/v1/{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .client
            .get(format!("{}/api/v1/{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }
}

fn keyring(data_dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(data_dir.join("keyring.json")).unwrap()).unwrap()
}

/// Every sealed value in the database.
async fn sealed_values(data_dir: &Path) -> Vec<String> {
    let store = Store::connect(&DatabaseSettings::sqlite(data_dir))
        .await
        .unwrap();
    let mut values = Vec::new();
    let mut after: Option<RowKey> = None;
    loop {
        let rows = reseal::sealed_members(&mut store.read().await.unwrap(), after, 100)
            .await
            .unwrap();
        let Some(last) = rows.last() else { break };
        after = Some(last.key());
        for row in &rows {
            values.extend(row.values().map(|(_, value)| value.to_owned()));
        }
    }
    let mut after: Option<RowKey> = None;
    loop {
        let rows = reseal::sealed_identifiers(&mut store.read().await.unwrap(), after, 100)
            .await
            .unwrap();
        let Some(last) = rows.last() else { break };
        after = Some(last.key());
        values.extend(rows.into_iter().map(|row| row.value_enc));
    }
    let mut after: Option<RowKey> = None;
    loop {
        let rows = reseal::merge_snapshots(&mut store.read().await.unwrap(), after, 100)
            .await
            .unwrap();
        let Some(last) = rows.last() else { break };
        after = Some(last.key());
        for row in rows {
            let before = row.survivor_before;
            values.extend(
                [before.name_enc, before.address_enc, before.id_card_enc]
                    .into_iter()
                    .flatten(),
            );
        }
    }
    store.close().await;
    values
}

#[tokio::test]
async fn rotation_reseals_everything_and_the_server_still_reads_it() {
    let data = tempfile::tempdir().unwrap();
    let server = start(data.path());
    let api = Api::connect(&server).await;
    let full = json!({
        "identifiers": [
            { "kind": "phone", "value": "13912345678" },
            { "kind": "email", "value": "wang.xiaoming@example.com" },
        ],
        "profile": { "name": "王小明", "address": "上海市黄浦区南京东路100号", "id_card_no": "11010519491231002X" },
    });
    let (status, first) = api.post("members", full.clone()).await;
    assert_eq!(status, 201, "{first}");
    let lean = json!({
        "identifiers": [
            { "kind": "phone", "value": "13912345679" },
            { "kind": "wechat_openid", "value": "oAbC123456", "app_id": "wx0123456789abcdef" },
        ],
        "profile": { "name": "李雷" },
    });
    let (status, second) = api.post("members", lean).await;
    assert_eq!(status, 201, "{second}");
    // A duplicate merged into the first: the merge keeps a sealed snapshot of the survivor.
    let duplicate = json!({
        "identifiers": [{ "kind": "phone", "value": "13912345677" }],
        "profile": { "name": "王小明", "gender": "male" },
    });
    let (status, third) = api.post("members", duplicate).await;
    assert_eq!(status, 201, "{third}");
    let ids = [
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
        third["id"].as_str().unwrap(),
    ];
    let unmerged = api.get(&format!("members/{}", ids[0])).await;
    let (status, merged) = api
        .post(
            &format!("members/{}/merge", ids[0]),
            json!({ "source_member_id": ids[2] }),
        )
        .await;
    assert_eq!(status, 200, "{merged}");
    let mut before = Vec::new();
    for id in ids {
        before.push(api.get(&format!("members/{id}")).await);
    }
    let _ = server.terminate();
    assert_eq!(keyring(data.path())["active"], 1);
    let sealed = sealed_values(data.path()).await;
    assert_eq!(
        sealed.len(),
        13,
        "5 profile fields, 5 identifiers, 3 in the merge snapshot"
    );
    assert!(sealed.iter().all(|v| v.starts_with("k1.")), "{sealed:?}");

    let out = rotate(data.path(), &[]);
    assert!(out.contains("added key k2"), "{out}");
    assert!(
        out.contains("members: 3 rows checked, 5 values re-sealed"),
        "{out}"
    );
    assert!(
        out.contains("member_identifiers: 5 rows checked, 5 values re-sealed"),
        "{out}"
    );
    assert!(
        out.contains("member_merges: 1 rows checked, 3 values re-sealed"),
        "{out}"
    );
    assert!(out.contains("done: 13 values re-sealed with k2"), "{out}");
    let ring = keyring(data.path());
    assert_eq!(ring["active"], 2);
    assert_eq!(
        ring["pii_keys"].as_object().unwrap().len(),
        2,
        "old keys stay for backups"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("keyring.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the keyring stays private");
    }
    let sealed = sealed_values(data.path()).await;
    assert_eq!(sealed.len(), 13);
    assert!(sealed.iter().all(|v| v.starts_with("k2.")), "{sealed:?}");

    // The restarted server reads the same data and still finds members by blind index.
    let server = start(data.path());
    let api = Api::connect(&server).await;
    for (id, earlier) in ids.iter().zip(&before) {
        assert_eq!(&api.get(&format!("members/{id}")).await, earlier);
    }
    let found = api.get("members?phone=13912345678").await;
    assert_eq!(found["items"][0]["id"], ids[0]);
    let found = api.get("members?name=李").await;
    assert_eq!(found["items"][0]["id"], ids[1]);
    let (status, again) = api.post("members", full).await;
    assert_eq!(
        (status, again["id"].as_str()),
        (200, Some(ids[0])),
        "registration still matches"
    );
    let (status, fourth) = api
        .post("members", json!({ "identifiers": [{ "kind": "phone", "value": "13912345670" }], "profile": { "name": "韩梅梅" } }))
        .await;
    assert_eq!(status, 201, "{fourth}");
    let _ = server.terminate();
    let sealed = sealed_values(data.path()).await;
    assert_eq!(sealed.len(), 15);
    assert!(
        sealed.iter().all(|v| v.starts_with("k2.")),
        "new values use the new key"
    );

    // Re-running without a new key finds nothing stale; with one, everything moves again.
    let out = rotate(data.path(), &["--no-new-key"]);
    assert!(out.contains("done: 0 values re-sealed with k2"), "{out}");
    assert_eq!(keyring(data.path())["active"], 2);
    let out = rotate(data.path(), &["--batch-size", "1"]);
    assert!(out.contains("done: 15 values re-sealed with k3"), "{out}");
    assert!(
        sealed_values(data.path())
            .await
            .iter()
            .all(|v| v.starts_with("k3."))
    );

    // Undoing the merge reads the re-sealed snapshot and gives the duplicate its data back.
    let server = start(data.path());
    let api = Api::connect(&server).await;
    assert_eq!(api.get(&format!("members/{}", ids[1])).await, before[1]);
    let (status, undone) = api
        .post(&format!("members/{}/unmerge", ids[0]), json!({}))
        .await;
    assert_eq!(status, 200, "{undone}");
    let survivor = api.get(&format!("members/{}", ids[0])).await;
    assert_eq!(survivor["profile"], unmerged["profile"]);
    assert_eq!(survivor["identifiers"], unmerged["identifiers"]);
    let restored = api.get(&format!("members/{}", ids[2])).await;
    assert_eq!(restored["status"], "active");
    assert_eq!(restored["profile"]["name"], "王小明");
    assert_eq!(restored["identifiers"][0]["value"], "+8613912345677");
    let _ = server.terminate();
}

#[test]
fn rotation_without_a_keyring_is_refused() {
    let data = tempfile::tempdir().unwrap();
    let output = huiyuan(&["rotate-keys"], data.path());
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("keyring"), "{stderr}");
    assert!(
        !data.path().join("keyring.json").exists(),
        "no keyring is invented"
    );
}
