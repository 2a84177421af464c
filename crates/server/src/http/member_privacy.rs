//! `/api/v1/members/{id}/export` and `/erase`: PIPL rights over a member's data (see
//! [`crate::app::identity::privacy`] for what erasure removes and keeps, and why).

use crate::app::error::ApiResult;
use crate::app::identity::privacy::{Erasure, ErasureReason, MemberExport, build_export, erase};
use crate::app::mutation::WriteMeta;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, Command};
use crate::http::respond::Respond;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::Permission;
use huiyuan_domain::ids::MemberId;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_member))
        .routes(routes!(erase_member))
}

/// Everything held about a member, personal data in clear: profile, identifiers, consent history,
/// source and guide, merges, the audit trail and every module's summary. Needs `members:read`
/// and `pii:read`; the export itself is audited (`member.exported`). A merged member's id
/// exports the survivor.
#[utoipa::path(get, path = "/members/{id}/export", tag = "members", params(("id" = Uuid, Path)),
    responses((status = 200, description = "Everything held about the member", body = MemberExport),
        (status = 403, description = "The caller lacks members:read or pii:read", body = crate::http::problem::Problem),
        (status = 404, description = "No such member in the caller's scope", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn export_member(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::MembersRead)?;
    caller.require(Permission::PiiRead)?;
    let export = {
        let mut session = app.store.read().await?;
        build_export(&mut session, &app, &caller, id).await?
    };
    // Audited, but never stored for replays: the body is personal data in clear.
    let meta = WriteMeta {
        idempotency_key: None,
        ..meta
    };
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let summary = json!({
                "identifiers": export.member.identifiers.len(),
                "consent_decisions": export.consent_history.len(),
                "audit_entries": export.audit.len(),
            });
            m.audit("member.exported", "member", export.member.id, summary)
                .await?;
            Ok(export)
        })
    })
    .await
}

/// `POST /members/{id}/erase`; the body is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseMember {
    /// Why (default `member_request`).
    pub reason: Option<ErasureReason>,
}

/// Erase a member irreversibly: identifiers, sealed personal data, search tokens and demographics
/// are removed; the member number, guide, source and ledgers stay (see the module notes). Needs
/// `members:write` and `pii:read`. Erasing an erased member is a no-op answering 200.
#[utoipa::path(post, path = "/members/{id}/erase", tag = "members", request_body = EraseMember,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Erased now, or erased before (`already_erased`)", body = Erasure),
        (status = 403, description = "The caller lacks members:write or pii:read, or may not change this member", body = crate::http::problem::Problem),
        (status = 404, description = "No such member in the caller's scope", body = crate::http::problem::Problem),
        (status = 409, description = "The member kept being merged while the erasure waited; try again", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn erase_member(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<EraseMember>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    caller.require(Permission::PiiRead)?;
    let reason = body.reason.unwrap_or_default();
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { erase(m, &scope, id, reason).await })
    })
    .await
}
