//! Many writers at once: every request is answered without a server fault (no "database is
//! locked" on SQLite), and what the API says it created is exactly what is there.

use crate::support::{TestApp, send};
use reqwest::Method;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

on_both!(multi_thread: concurrent_writers_all_succeed);

/// Writers running at once.
const WRITERS: usize = 64;
/// How long they keep writing.
const RUN_FOR: Duration = Duration::from_secs(3);
/// A bound on each writer's loop, whatever the clock says.
const MAX_REQUESTS_PER_WRITER: usize = 10_000;

async fn concurrent_writers_all_succeed(app: &TestApp) {
    let admin = app.admin_token().await;
    let deadline = Instant::now() + RUN_FOR;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (client, url, admin) = (app.client.clone(), app.url("channels"), admin.clone());
        writers.spawn(async move {
            let mut statuses = Vec::new();
            let mut faults = Vec::new();
            for n in 0..MAX_REQUESTS_PER_WRITER {
                if Instant::now() >= deadline {
                    break;
                }
                let body =
                    json!({ "code": format!("w{writer}-{n}"), "name": "Load", "kind": "pos" });
                let request = client
                    .request(Method::POST, &url)
                    .bearer_auth(&admin)
                    .json(&body);
                let reply = send(request).await;
                if reply.status >= 500 || reply.text.to_ascii_lowercase().contains("locked") {
                    faults.push(format!("{}: {}", reply.status, reply.text));
                }
                statuses.push(reply.status);
            }
            (statuses, faults)
        });
    }
    let mut counts: BTreeMap<u16, usize> = BTreeMap::new();
    let mut faults = Vec::new();
    while let Some(result) = writers.join_next().await {
        let (statuses, more_faults) = result.expect("a writer task");
        for status in statuses {
            *counts.entry(status).or_default() += 1;
        }
        faults.extend(more_faults);
    }
    let created = counts.get(&201).copied().unwrap_or(0);
    eprintln!(
        "{:?}: {WRITERS} writers for {RUN_FOR:?}: statuses {counts:?}",
        app.backend
    );
    assert!(
        faults.is_empty(),
        "{} faults, first: {:?}",
        faults.len(),
        faults.first()
    );
    assert!(created > 0, "nothing was created: {counts:?}");
    assert_eq!(
        counts.len(),
        1,
        "every request created a channel: {counts:?}"
    );

    let listed = app.list_all("channels", &admin, 200).await;
    assert_eq!(listed.len(), created, "listed channels vs. 201 answers");
    let audited = app
        .list_all("audit-log?action=channel.created", &admin, 200)
        .await;
    assert_eq!(audited.len(), created, "audit entries vs. 201 answers");
}
