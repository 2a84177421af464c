//! The one path every write takes: open a transaction, claim the idempotency key, run the
//! change, append the audit entry, store the response for replays, commit. A failure anywhere
//! rolls all of it back, so a retry is always safe.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::WriteMeta;
use crate::state::AppState;
use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::auth::{Actor, Principal};
use huiyuan_domain::ids::TenantId;
use huiyuan_store::idempotency::{self, Claim, StoredResponse};
use huiyuan_store::{Session, Store, audit, utc_now};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use time::OffsetDateTime;

/// Header set on a response replayed from an earlier request with the same idempotency key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// An open write: the transaction plus who is writing, for the audit trail.
pub struct Mutation {
    pub session: Session,
    pub tenant: TenantId,
    pub actor: Actor,
    pub request_id: Option<String>,
    /// One timestamp for everything the change writes.
    pub now: OffsetDateTime,
    /// Set by changes of cached tenant configuration: the cache is invalidated after the commit.
    config_changed: bool,
}

impl Mutation {
    pub async fn begin(
        store: &Store,
        tenant: TenantId,
        actor: Actor,
        request_id: Option<String>,
    ) -> ApiResult<Self> {
        Ok(Self::in_session(
            store.write().await?,
            tenant,
            actor,
            request_id,
        ))
    }

    /// A change in a write session opened elsewhere (a change of a group, see
    /// [`crate::writer_lane`]).
    pub fn in_session(
        session: Session,
        tenant: TenantId,
        actor: Actor,
        request_id: Option<String>,
    ) -> Self {
        Self {
            session,
            tenant,
            actor,
            request_id,
            now: utc_now(),
            config_changed: false,
        }
    }

    /// Marks this change as changing configuration the [`crate::config_cache`] holds (earning
    /// rules, points policy, tier ladder, event rewards, channels, stores, formats).
    pub fn config_changed(&mut self) {
        self.config_changed = true;
    }

    /// Whether [`Mutation::config_changed`] was called.
    pub fn changes_config(&self) -> bool {
        self.config_changed
    }

    /// Appends an audit entry in this transaction.
    pub async fn audit(
        &mut self,
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        summary: serde_json::Value,
    ) -> ApiResult<()> {
        let entry = AuditEntry::new(
            &self.actor,
            self.request_id.clone(),
            action,
            target_type,
            target_id,
            summary,
            self.now,
        );
        // Queued: sent with the change's other deferred writes, before its next read or at commit.
        audit::defer_append(&mut self.session, self.tenant, &entry);
        Ok(())
    }

    pub async fn commit(self) -> ApiResult<()> {
        self.session.commit().await?;
        Ok(())
    }
}

/// What a transaction answers; the response is built from it once the writer lane is done.
enum Answer<T> {
    Fresh(StatusCode, T),
    /// Serialised already, to be kept under the request's Idempotency-Key.
    Kept(StatusCode, serde_json::Value),
    Replayed(Response),
}

/// The change itself, borrowing the open [`Mutation`].
pub type Work<'a, T> = Pin<Box<dyn Future<Output = ApiResult<T>> + Send + 'a>>;

impl AppState {
    /// Runs `work` as one idempotent, audited transaction and answers with `status` and its result.
    pub async fn mutate<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        status: StatusCode,
        work: F,
    ) -> ApiResult<Response>
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, T> + Send + 'static,
    {
        self.mutate_redacted(caller, meta, status, |_| {}, work)
            .await
    }

    /// As [`AppState::mutate`], but what is stored for replays passes through `redact` first, so
    /// secrets shown once (a new API key) are never kept.
    pub async fn mutate_redacted<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        status: StatusCode,
        redact: fn(&mut serde_json::Value),
        work: F,
    ) -> ApiResult<Response>
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, T> + Send + 'static,
    {
        self.mutate_answering(caller, meta, redact, move |m| {
            let done = work(m);
            Box::pin(async move { done.await.map(|value| (status, value)) })
        })
        .await
    }

    /// As [`AppState::mutate`], for changes whose status depends on what they found (registration
    /// answers 201 for a new member, 200 for an existing one). The transaction runs on the
    /// [`crate::writer_lane::WriterLane`].
    pub async fn mutate_answering<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        redact: fn(&mut serde_json::Value),
        work: F,
    ) -> ApiResult<Response>
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, (StatusCode, T)> + Send + 'static,
    {
        let (app, caller, meta) = (self.clone(), caller.clone(), meta.clone());
        let tenant = caller.tenant_id;
        let (answer, config_changed) =
            self.writer_lane
                .run(move |session| async move {
                    app.transact(session, &caller, &meta, redact, work).await
                })
                .await?;
        // After the commit, before answering: the next request on this node sees the change.
        if config_changed {
            self.config.invalidate(tenant);
        }
        // Serialised here, off the writer lane's thread, which every write waits for.
        Ok(match answer {
            Answer::Fresh(status, value) => (status, Json(value)).into_response(),
            Answer::Kept(status, body) => (status, Json(body)).into_response(),
            Answer::Replayed(response) => response,
        })
    }

    /// [`AppState::mutate_answering`] where it is called: in `session`, or in a transaction of
    /// its own. Answers what to respond and whether cached configuration changed.
    async fn transact<T, F>(
        &self,
        session: Option<Session>,
        caller: &Principal,
        meta: &WriteMeta,
        redact: fn(&mut serde_json::Value),
        work: F,
    ) -> ApiResult<(Answer<T>, bool)>
    where
        T: Serialize,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, (StatusCode, T)>,
    {
        let (tenant, actor, request_id) = (
            caller.tenant_id,
            caller.actor.clone(),
            meta.request_id.clone(),
        );
        let mut mutation = match session {
            Some(session) => Mutation::in_session(session, tenant, actor, request_id),
            None => Mutation::begin(&self.store, tenant, actor, request_id).await?,
        };
        let key = match (&meta.idempotency_key, caller.actor.actor_id()) {
            (Some(key), Some(actor)) => Some((key.as_str(), actor)),
            _ => None,
        };
        if let Some((key, actor)) = key {
            match idempotency::claim(
                &mut mutation.session,
                caller.tenant_id,
                actor,
                key,
                &meta.request_hash,
                mutation.now,
            )
            .await?
            {
                Claim::New => {}
                Claim::Replay(stored) => {
                    return replay(&self.vault, stored).map(|r| (Answer::Replayed(r), false));
                }
                Claim::Mismatch => {
                    return Err(ApiError::with_detail(
                        ErrorCode::IdempotencyKeyReused,
                        "this Idempotency-Key was already used with a different request",
                    ));
                }
            }
        }
        let (status, result) = work(&mut mutation).await?;
        let answer = match key {
            None => Answer::Fresh(status, result),
            Some((key, actor)) => {
                let body = serde_json::to_value(result).map_err(ApiError::internal)?;
                let mut kept = body.clone();
                redact(&mut kept);
                // Responses may carry personal data (a member view for a caller with `pii:read`):
                // kept sealed like any other personal data at rest.
                let stored = StoredResponse {
                    status_code: status.as_u16(),
                    body: serde_json::json!({ "sealed": self.vault.seal(&kept.to_string()) }),
                };
                idempotency::defer_complete(
                    &mut mutation.session,
                    caller.tenant_id,
                    actor,
                    key,
                    &stored,
                );
                Answer::Kept(status, body)
            }
        };
        let config_changed = mutation.changes_config();
        mutation.commit().await?;
        Ok((answer, config_changed))
    }
}

fn replay(vault: &crate::vault::Vault, stored: StoredResponse) -> ApiResult<Response> {
    let status = StatusCode::from_u16(stored.status_code).unwrap_or(StatusCode::OK);
    let body = match stored.body.get("sealed").and_then(|sealed| sealed.as_str()) {
        Some(sealed) => {
            let text = vault.open(sealed).map_err(ApiError::internal)?;
            serde_json::from_str(&text).map_err(ApiError::internal)?
        }
        None => stored.body,
    };
    let mut response = (status, Json(body)).into_response();
    response
        .headers_mut()
        .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    Ok(response)
}
