//! One running server per test: the real router on a socket bound to 127.0.0.1:0, over a fresh
//! database (see `huiyuan_testkit`), and a client for it. The listener is bound before the
//! server task starts, so no test ever waits for the server to come up.

use huiyuan_server::app::state::AppState;
use huiyuan_server::config::Settings;
pub use huiyuan_testkit::Backend;
use huiyuan_testkit::TestDatabase;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The default tenant's admin password in every test app.
pub const ADMIN_PASSWORD: &str = "admin-password-123";

/// How long `stop` waits for the server and the pools before giving up on them.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// For each `async fn name(app: &TestApp)` of the calling module, `mod name` with a `sqlite` and
/// a `postgres` test (see `huiyuan_testkit::on_both!`); `multi_thread:` first runs them on a
/// 4-worker runtime, for tests whose point is concurrency; attributes before a name
/// (`#[ignore = "…"]`) go on both.
macro_rules! on_both {
    ($($tests:tt)+) => {
        huiyuan_testkit::on_both!(crate::support::run; $($tests)+);
    };
}

/// Spawns an app on `backend` (or skips when PostgreSQL is unreachable and not required), runs
/// the test against it, and stops it cleanly.
pub async fn run(backend: Backend, test: impl AsyncFnOnce(&TestApp)) {
    if let Some(app) = TestApp::spawn(backend).await {
        test(&app).await;
        app.stop().await;
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub backend: Backend,
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    pub client: reqwest::Client,
    /// The server's own state: its store, for setup no route offers (a second tenant).
    pub state: AppState,
    pub default_tenant: huiyuan_domain::org::Tenant,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    // Last, so everything using the database is gone before the database goes.
    _database: TestDatabase,
}

impl TestApp {
    /// `None` (after a loud note on stderr) when PostgreSQL is unreachable and not required.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// As [`TestApp::spawn`], with `configure` adjusting the settings first.
    pub async fn spawn_with(
        backend: Backend,
        configure: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let mut settings = Settings {
            admin_password: Some(ADMIN_PASSWORD.to_owned()),
            argon2_memory_kib: 64,
            ..Settings::default()
        };
        let database = TestDatabase::create(backend).await?;
        match &database {
            TestDatabase::Sqlite(sqlite) => settings.data_dir = sqlite.data_dir().to_owned(),
            TestDatabase::Postgres(postgres) => settings.database_url = Some(postgres.url()),
        }
        configure(&mut settings);
        let opened = huiyuan_server::open(settings)
            .await
            .expect("open the server state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let address = listener.local_addr().expect("the bound address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = huiyuan_server::http::service::build_app(opened.state.clone());
        let server = tokio::spawn(huiyuan_server::http::service::serve(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
        ));
        Some(TestApp {
            backend,
            base_url: format!("http://{address}"),
            client: reqwest::Client::new(),
            state: opened.state,
            default_tenant: opened.default_tenant,
            shutdown: Some(shutdown),
            server: Some(server),
            _database: database,
        })
    }

    /// Shuts the server down, waits for it, and closes the pools; `Drop` then removes the data.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // Idle keep-alive connections would hold a graceful shutdown open.
        self.client = reqwest::Client::new();
        if let Some(server) = self.server.take() {
            let finished = tokio::time::timeout(STOP_TIMEOUT, server).await;
            let result = finished
                .expect("the server stops")
                .expect("the server task");
            result.expect("the server ran without I/O errors");
        }
        let _ = tokio::time::timeout(STOP_TIMEOUT, self.state.store.close()).await;
    }

    /// `path` starting with `/` is taken as is; anything else is relative to `/api/v1/`.
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}/api/v1/{path}", self.base_url)
        }
    }

    /// A request to `path` (see [`TestApp::url`]) with the bearer token, when not empty.
    pub fn request(&self, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        let builder = self.client.request(method, self.url(path));
        if token.is_empty() {
            builder
        } else {
            builder.bearer_auth(token)
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        send(self.request(Method::GET, path, token)).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        send(self.request(Method::POST, path, token).json(&body)).await
    }

    /// A POST carrying an `Idempotency-Key`.
    pub async fn post_once(&self, path: &str, token: &str, key: &str, body: Value) -> Reply {
        let builder = self.request(Method::POST, path, token);
        send(builder.header("idempotency-key", key).json(&body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        send(self.request(Method::PATCH, path, token).json(&body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        send(self.request(Method::DELETE, path, token)).await
    }

    /// Logs in to the default tenant; panics unless it works.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = serde_json::json!({ "username": username, "password": password });
        token_of(self.post("auth/login", "", body).await)
    }

    /// Logs in to the tenant with `slug`; panics unless it works.
    pub async fn login_to(&self, slug: &str, username: &str, password: &str) -> String {
        let body =
            serde_json::json!({ "tenant": slug, "username": username, "password": password });
        token_of(self.post("auth/login", "", body).await)
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Every item of a list, following `next_cursor` with pages of `limit`; checks that only
    /// full pages announce another.
    pub async fn list_all(&self, path: &str, token: &str, limit: u32) -> Vec<Value> {
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut cursor = String::new();
        for _ in 0..10_000 {
            let page = self
                .get(
                    &format!("{path}{separator}limit={limit}&cursor={cursor}"),
                    token,
                )
                .await
                .ok(200);
            let got = page["items"].as_array().expect("items").clone();
            assert!(
                got.len() <= limit as usize,
                "a page holds at most its limit"
            );
            let full = got.len() == limit as usize;
            items.extend(got);
            match page["next_cursor"].as_str() {
                Some(next) => {
                    assert!(full, "only a full page announces another");
                    cursor = next.to_owned();
                }
                None => return items,
            }
        }
        panic!("pagination of {path} did not end");
    }
}

fn token_of(reply: Reply) -> String {
    let body = reply.ok(200);
    body["token"].as_str().expect("a token").to_owned()
}

/// Sends and reads the whole answer.
pub async fn send(builder: reqwest::RequestBuilder) -> Reply {
    let response = builder.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("read the body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        text,
        body,
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as JSON, or `null` when it is not JSON.
    pub body: Value,
}

impl Reply {
    /// The JSON body, after checking the status.
    #[track_caller]
    pub fn ok(self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        self.body
    }

    /// Checks that this is a problem+json answer with `status` and `code`; returns the body.
    #[track_caller]
    pub fn problem(self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "problem content type; body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "problem code; body: {}", self.text);
        self.body
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }
}

/// The `id` of a JSON record.
#[track_caller]
pub fn id(record: &Value) -> String {
    record["id"].as_str().expect("an id").to_owned()
}

/// The ids of listed records.
pub fn ids(records: &[Value]) -> Vec<String> {
    records.iter().map(id).collect()
}
