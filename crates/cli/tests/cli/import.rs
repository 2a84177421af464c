//! `huiyuan import members` end to end on a temporary data directory: a dry run, the import with
//! its reject file and probable-duplicate report, a re-run that changes nothing, mappings and
//! tenants, and the members as the API then serves them.

use crate::process::{BIN, Server};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output};

const PASSWORD: &str = "cli-import-password";

const MEMBERS: &str = "手机号,姓名,性别,生日,地址,卡号,备注\n\
    13800138000,张三,男,1990/5/1,上海市南京东路1号,C001,vip\n\
    12345,李四,女,,,,bad phone\n\
    13900139000,王五,M,19850203,,C002,\n\
    +86 138 0013 8000,张三,,,,C009,same person\n\
    13700137000,张三,男,1990-05-01,,C003,probable duplicate\n\
    13600136000,赵六,x,,,,bad gender\n";

fn huiyuan(args: &[&str], data_dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("HUIYUAN_ARGON2_MEMORY_KIB", "64")
        .env("HUIYUAN_ADMIN_PASSWORD", PASSWORD)
        .env("HUIYUAN_LOG_LEVEL", "warn")
        .output()
        .expect("run huiyuan")
}

/// Runs and expects success; answers stdout.
fn ok(args: &[&str], data_dir: &Path) -> String {
    let output = huiyuan(args, data_dir);
    assert!(
        output.status.success(),
        "huiyuan {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The rows of a report file (quoted fields with commas, no embedded line breaks).
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|_| panic!("{} exists", path.display()));
    text.lines()
        .map(|line| {
            let mut fields = Vec::new();
            let mut field = String::new();
            let mut quoted = false;
            let mut chars = line.chars().peekable();
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        field.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => fields.push(std::mem::take(&mut field)),
                    _ => field.push(c),
                }
            }
            fields.push(field);
            fields
        })
        .collect()
}

/// `huiyuan serve` on the data directory, once it logs that it listens.
fn serve(data_dir: &Path) -> Server {
    let (server, _) = Server::start(data_dir, |command| {
        command.env("HUIYUAN_LOG_LEVEL", "info");
    });
    server
}

async fn get(client: &reqwest::Client, url: String, token: &str) -> Value {
    client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn import_members_from_a_file_then_again() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("legacy.csv");
    std::fs::write(&file, MEMBERS).unwrap();
    let file_arg = file.to_str().unwrap();

    // A dry run reports everything and writes nothing.
    let checked = ok(&["import", "members", file_arg, "--dry-run"], data.path());
    assert!(checked.contains("checked 6 rows"), "{checked}");
    assert!(
        checked.contains("created 3, merged 1, unchanged 0, rejected 2"),
        "{checked}"
    );
    assert!(
        checked.contains("dry run: nothing was written"),
        "{checked}"
    );
    assert!(checked.contains("备注 (ignored)"), "{checked}");

    let imported = ok(&["import", "members", file_arg], data.path());
    assert!(imported.contains("imported 6 rows"), "{imported}");
    assert!(
        imported.contains("created 3, merged 1, unchanged 0, rejected 2 (1 rows named a member an earlier row named)"),
        "{imported}"
    );
    assert!(
        imported.contains("probable duplicates for review: 1 new members"),
        "{imported}"
    );

    // The reject file: line, reason code and text, then the row as it was.
    let rejects = csv_rows(&data.path().join("legacy.rejects.csv"));
    assert_eq!(
        rejects[0],
        [
            "line",
            "code",
            "reason",
            "手机号",
            "姓名",
            "性别",
            "生日",
            "地址",
            "卡号",
            "备注"
        ]
    );
    assert_eq!(rejects.len(), 3);
    assert_eq!(rejects[1][..2], ["3", "invalid_value"]);
    assert!(
        rejects[1][2].starts_with("phone (手机号):"),
        "{:?}",
        rejects[1]
    );
    assert_eq!(
        rejects[1][3..],
        ["12345", "李四", "女", "", "", "", "bad phone"]
    );
    assert_eq!(rejects[2][..2], ["7", "invalid_value"]);
    assert!(
        rejects[2][2].starts_with("gender (性别):"),
        "{:?}",
        rejects[2]
    );

    // The probable duplicate: line 6 has line 2's name and birthday.
    let duplicates = csv_rows(&data.path().join("legacy.duplicates.csv"));
    assert_eq!(duplicates.len(), 2, "{duplicates:?}");
    assert_eq!(duplicates[1][0], "6");
    assert_eq!(duplicates[1][3], "same_name_and_birthday");
    assert_eq!(duplicates[1][6], "2");

    // Again: nothing changes.
    let again = ok(&["import", "members", file_arg], data.path());
    assert!(
        again.contains("created 0, merged 0, unchanged 4, rejected 2"),
        "{again}"
    );
    assert!(
        again.contains("probable duplicates for review: 0"),
        "{again}"
    );

    // The members as the API serves them.
    let server = serve(data.path());
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
    let token = login["token"].as_str().expect("token").to_owned();
    let found = get(
        &client,
        format!("{}/api/v1/members?card_no=C009", server.base),
        &token,
    )
    .await;
    let zhang = &found["items"][0];
    assert_eq!(zhang["profile"]["name"], "张三");
    assert_eq!(zhang["profile"]["birthday"], "1990-05-01");
    assert_eq!(
        zhang["identifiers"].as_array().unwrap().len(),
        3,
        "phone and two cards"
    );
    let all = get(&client, format!("{}/api/v1/members", server.base), &token).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    let audit = get(
        &client,
        format!("{}/api/v1/audit-log?action=member.imported", server.base),
        &token,
    )
    .await;
    let entries = audit["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "one batch changed something");
    assert_eq!(entries[0]["actor_kind"], "system");
    assert_eq!(entries[0]["summary"]["source"], "legacy.csv");
}

#[test]
fn mappings_tenants_and_report_paths() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("export.csv");
    std::fs::write(&file, "会员手机,客户名称\n13800138000,张三\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let rejects = data.path().join("out").join("rejected.csv");

    // Without a mapping the file has no identifier column.
    let refused = huiyuan(&["import", "members", file_arg], data.path());
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("no identifier column"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    ok(
        &["tenant", "create", "--slug", "acme", "--name", "Acme"],
        data.path(),
    );
    std::fs::create_dir_all(rejects.parent().unwrap()).unwrap();
    let imported = ok(
        &[
            "import",
            "members",
            file_arg,
            "--tenant",
            "acme",
            "--map",
            "会员手机=phone,客户名称=name",
            "--reject-file",
            rejects.to_str().unwrap(),
            "--batch-size",
            "1",
        ],
        data.path(),
    );
    assert!(imported.contains("into tenant 'acme'"), "{imported}");
    assert!(imported.contains("created 1"), "{imported}");
    assert_eq!(
        csv_rows(&rejects),
        [["line", "code", "reason", "会员手机", "客户名称"]],
        "a reject file with no rows"
    );
    // Another tenant knows nothing of acme's members.
    let default = ok(
        &[
            "import",
            "members",
            file_arg,
            "--map",
            "会员手机=phone,客户名称=name",
        ],
        data.path(),
    );
    assert!(
        default.contains("into tenant 'default'") && default.contains("created 1"),
        "{default}"
    );

    let unknown = huiyuan(
        &[
            "import",
            "members",
            file_arg,
            "--tenant",
            "nope",
            "--map",
            "会员手机=phone",
        ],
        data.path(),
    );
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no tenant with slug 'nope'"));
    let missing = huiyuan(&["import", "members", "/nonexistent.csv"], data.path());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot open"));
}
