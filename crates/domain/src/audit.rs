//! The audit trail: who changed what, through which credential, in which request. Entries are only
//! ever appended.

use crate::auth::Actor;
use crate::ids::AuditEntryId;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// One recorded mutation.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: AuditEntryId,
    /// `staff`, `api_key` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<Uuid>,
    /// The session or API key used.
    pub credential_id: Option<Uuid>,
    /// Dotted verb, e.g. `store.created`.
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// What changed: the new values, or `{ "before": …, "after": … }` for updates.
    #[schema(value_type = Object)]
    pub summary: serde_json::Value,
    pub request_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl AuditEntry {
    /// A new entry by `actor` about one target.
    pub fn new(
        actor: &Actor,
        request_id: Option<String>,
        action: &str,
        target_type: &str,
        target_id: impl ToString,
        summary: serde_json::Value,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            id: AuditEntryId::new(),
            actor_kind: actor.kind().to_owned(),
            actor_id: actor.actor_id(),
            credential_id: actor.credential_id(),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: target_id.to_string(),
            summary,
            request_id,
            created_at: now,
        }
    }
}
