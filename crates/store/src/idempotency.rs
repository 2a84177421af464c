//! Idempotency keys. The key is claimed at the start of the write transaction and the response is
//! stored before it commits, so a retry either replays the stored response or — when the first
//! attempt rolled back — runs again; it never sees half a result. On PostgreSQL a concurrent
//! attempt with the same key waits on the claim's row lock until the first one finishes.

use crate::backend::Session;
use crate::deferred::{Change, Write};
use crate::error::StoreResult;
use crate::on_backend;
use crate::timestamp::Ts;
use huiyuan_domain::ids::TenantId;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// A stored response to replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status_code: u16,
    pub body: serde_json::Value,
}

/// The outcome of claiming a key.
#[derive(Debug)]
pub enum Claim {
    /// First use: go ahead, then [`complete`].
    New,
    /// Used before with the same request: replay this.
    Replay(StoredResponse),
    /// Used before with a different request.
    Mismatch,
}

/// Status stored while the claiming transaction is still running.
const IN_FLIGHT: i64 = 0;

pub async fn claim(
    s: &mut Session,
    tenant: TenantId,
    actor: Uuid,
    key: &str,
    request_hash: &str,
    now: OffsetDateTime,
) -> StoreResult<Claim> {
    let inserted = on_backend!(s, c => sqlx::query(
        "INSERT INTO idempotency_keys (tenant_id, actor_id, idempotency_key, request_hash, status_code, response_body, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING")
        .bind(tenant.0).bind(actor).bind(key).bind(request_hash).bind(IN_FLIGHT)
        .bind(sqlx::types::Json(serde_json::Value::Null)).bind(Ts(now))
        .execute(&mut *c).await.map(|r| r.rows_affected()))?;
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (stored_hash, status, body): (String, i64, sqlx::types::Json<serde_json::Value>) = on_backend!(s, c => sqlx::query_as(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys \
         WHERE tenant_id = $1 AND actor_id = $2 AND idempotency_key = $3")
        .bind(tenant.0).bind(actor).bind(key).fetch_one(&mut *c).await)?;
    if stored_hash != request_hash {
        return Ok(Claim::Mismatch);
    }
    let status_code = u16::try_from(status).unwrap_or(500);
    Ok(Claim::Replay(StoredResponse {
        status_code,
        body: body.0,
    }))
}

/// Stores the response for replays of the key, now.
pub async fn complete(
    s: &mut Session,
    tenant: TenantId,
    actor: Uuid,
    key: &str,
    response: &StoredResponse,
) -> StoreResult<()> {
    defer_complete(s, tenant, actor, key, response);
    s.flush_deferred().await?;
    Ok(())
}

/// [`complete`] queued with the session's deferred writes (see [`crate::deferred`]).
pub fn defer_complete(
    s: &mut Session,
    tenant: TenantId,
    actor: Uuid,
    key: &str,
    response: &StoredResponse,
) {
    s.defer(Write::update(
        "idempotency_keys",
        [
            ("tenant_id", tenant.0.into()),
            ("actor_id", actor.into()),
            ("idempotency_key", key.into()),
        ],
        [
            (
                "status_code",
                Change::Set(i64::from(response.status_code).into()),
            ),
            ("response_body", Change::Set(response.body.clone().into())),
        ],
    ));
}

/// How long a key is remembered.
pub const RETENTION: Duration = Duration::hours(24);

/// Forgets keys older than [`RETENTION`], at most `batch` at a time so one sweep never holds the
/// writer long; returns how many went.
pub async fn purge_expired(s: &mut Session, now: OffsetDateTime, batch: i64) -> StoreResult<u64> {
    let cutoff = now - RETENTION;
    let affected = on_backend!(s, c => sqlx::query(
        "DELETE FROM idempotency_keys WHERE (tenant_id, actor_id, idempotency_key) IN \
         (SELECT tenant_id, actor_id, idempotency_key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)")
        .bind(Ts(cutoff)).bind(batch).execute(&mut *c).await.map(|r| r.rows_affected()))?;
    Ok(affected)
}
