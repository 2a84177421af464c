//! The one path every write takes: open a transaction (on the [`crate::writer_lane`]), claim the
//! idempotency key, run the change, append the audit entry, keep the answer for replays, commit.
//! A failure anywhere rolls all of it back, so a retry is always safe. [`AppState::write`] serves
//! callers' requests; [`AppState::write_as`] serves changes nobody retries with a key (background
//! jobs, login sessions, the first tenant). the HTTP layer turns a [`Written`] answer into
//! a response.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::state::AppState;
use crate::app::vault::Vault;
use http::StatusCode;
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::auth::{Actor, Principal};
use huiyuan_domain::ids::TenantId;
use huiyuan_store::idempotency::{self, Claim, StoredResponse};
use huiyuan_store::{Session, Store, audit, utc_now};
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::pin::Pin;
use time::OffsetDateTime;

/// What a write needs besides its body: the idempotency key, a fingerprint of the request (to
/// tell a retry from a different request under the same key), and the request id for the audit.
#[derive(Clone, Debug)]
pub struct WriteMeta {
    pub idempotency_key: Option<String>,
    pub request_hash: String,
    pub request_id: Option<String>,
}

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

    /// A change in the writer lane's `session`, or in a transaction of its own when the lane
    /// runs changes in place (PostgreSQL).
    async fn open(
        store: &Store,
        session: Option<Session>,
        tenant: TenantId,
        actor: Actor,
        request_id: Option<String>,
    ) -> ApiResult<Self> {
        match session {
            Some(session) => Ok(Self::in_session(session, tenant, actor, request_id)),
            None => Self::begin(store, tenant, actor, request_id).await,
        }
    }

    /// Marks this change as changing configuration the [`crate::app::config_cache`] holds (earning
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

/// What a write answers: its status and value, fresh or replayed.
pub enum Written<T> {
    /// Nothing kept: the request had no Idempotency-Key.
    Fresh(StatusCode, T),
    /// Serialised already, and kept under the request's Idempotency-Key.
    Kept(StatusCode, Value),
    /// The answer kept for an earlier request with the same key.
    Replayed(StatusCode, Value),
}

/// The change itself, borrowing the open [`Mutation`].
pub type Work<'a, T> = Pin<Box<dyn Future<Output = ApiResult<T>> + Send + 'a>>;

impl AppState {
    /// Runs `work` as one idempotent, audited transaction on the writer lane. `work` answers the
    /// status along with its value (registration: 201 for a new member, 200 for an existing one).
    /// What is kept for replays passes through `redact` first, so secrets shown once (a new API
    /// key) are never stored.
    pub async fn write<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        redact: fn(&mut Value),
        work: F,
    ) -> ApiResult<Written<T>>
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, (StatusCode, T)> + Send + 'static,
    {
        let (app, caller, meta) = (self.clone(), caller.clone(), meta.clone());
        let tenant = caller.tenant_id;
        let (written, config_changed) =
            self.writer_lane
                .run(move |session| async move {
                    app.transact(session, &caller, &meta, redact, work).await
                })
                .await?;
        // After the commit, before answering: the next request on this node sees the change.
        if config_changed {
            self.config.invalidate(tenant);
        }
        Ok(written)
    }

    /// A change without an Idempotency-Key, on the same writer lane and in one audited
    /// transaction: background jobs, login sessions, the first tenant. The caller is `actor` of
    /// `tenant`.
    pub async fn write_as<T, F>(
        &self,
        tenant: TenantId,
        actor: Actor,
        request_id: Option<String>,
        work: F,
    ) -> ApiResult<T>
    where
        T: Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, T> + Send + 'static,
    {
        let store = self.store.clone();
        let (value, config_changed) = self
            .writer_lane
            .run(move |session| async move {
                let mut mutation =
                    Mutation::open(&store, session, tenant, actor, request_id).await?;
                let value = work(&mut mutation).await?;
                let config_changed = mutation.changes_config();
                mutation.commit().await?;
                Ok((value, config_changed))
            })
            .await?;
        if config_changed {
            self.config.invalidate(tenant);
        }
        Ok(value)
    }

    /// [`AppState::write`] where it is called: in `session`, or in a transaction of its own.
    /// Answers what was written and whether cached configuration changed.
    async fn transact<T, F>(
        &self,
        session: Option<Session>,
        caller: &Principal,
        meta: &WriteMeta,
        redact: fn(&mut Value),
        work: F,
    ) -> ApiResult<(Written<T>, bool)>
    where
        T: Serialize,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, (StatusCode, T)>,
    {
        let (tenant, actor, request_id) = (
            caller.tenant_id,
            caller.actor.clone(),
            meta.request_id.clone(),
        );
        let mut mutation = Mutation::open(&self.store, session, tenant, actor, request_id).await?;
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
                    return replay(&self.vault, stored).map(|r| (r, false));
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
        let written = match key {
            None => Written::Fresh(status, result),
            Some((key, actor)) => {
                let body = serde_json::to_value(result).map_err(ApiError::internal)?;
                let mut kept = body.clone();
                redact(&mut kept);
                // Answers may carry personal data (a member view for a caller with `pii:read`):
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
                Written::Kept(status, body)
            }
        };
        let config_changed = mutation.changes_config();
        mutation.commit().await?;
        Ok((written, config_changed))
    }
}

/// The answer kept for an earlier request with the same key, opened.
fn replay<T>(vault: &Vault, stored: StoredResponse) -> ApiResult<Written<T>> {
    let status = StatusCode::from_u16(stored.status_code).unwrap_or(StatusCode::OK);
    let body = match stored.body.get("sealed").and_then(|sealed| sealed.as_str()) {
        Some(sealed) => {
            let text = vault.open(sealed).map_err(ApiError::internal)?;
            serde_json::from_str(&text).map_err(ApiError::internal)?
        }
        None => stored.body,
    };
    Ok(Written::Replayed(status, body))
}
