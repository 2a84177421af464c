//! `/api/v1/members/{id}/identifiers` and `/consents`: binding and unbinding identifiers, and the
//! consent history (PIPL: every decision kept, the latest one holds).

use crate::app::access::visible_member;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::identity::view::{IdentifierView, identifier_view};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, Caller, Command};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Actor, Permission};
use huiyuan_domain::identity::{ConsentChannel, Identifier, IdentifierInput};
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::validation::FieldError;
use huiyuan_store::members::{self, StoredConsent, StoredIdentifier};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(bind_identifier))
        .routes(routes!(unbind_identifier))
        .routes(routes!(list_consents, record_consent))
}

/// Bind an identifier. One that another member holds is a 409 naming that member.
#[utoipa::path(post, path = "/members/{id}/identifiers", tag = "members", request_body = IdentifierInput,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Bound", body = IdentifierView),
        (status = 409, description = "Another member holds it", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input or limit reached", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn bind_identifier(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<IdentifierInput>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let identifier = Identifier::parse("", &body).map_err(|mut error| {
        error.field = error.field.trim_start_matches('.').to_owned();
        ApiError::from(error)
    })?;
    let reveal = caller.permissions.contains(Permission::PiiRead);
    let (vault, policy, scope) = (app.vault.clone(), app.identity.clone(), caller.clone());
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let (member, _) = visible_member(&mut m.session, &scope, id, Access::Write).await?;
            if member.status != "active" {
                return Err(FieldError::new(
                    "id",
                    "not_active",
                    "only active members take identifiers and consents",
                )
                .into());
            }
            let kind = identifier.kind.as_str();
            let index = vault.blind_index(kind, &identifier.key);
            let matchable = policy.matches_people(&identifier);
            let existing = members::list_identifiers(&mut m.session, m.tenant, member.id).await?;
            if existing
                .iter()
                .any(|e| e.kind == kind && e.value_index == index)
            {
                return Err(ApiError::conflict(
                    "value",
                    "the member already has this identifier",
                ));
            }
            if existing.iter().filter(|e| e.kind == kind).count() >= policy.limit(identifier.kind) {
                return Err(FieldError::new(
                    "kind",
                    "limit_exceeded",
                    format!(
                        "at most {} {kind} identifiers per member",
                        policy.limit(identifier.kind)
                    ),
                )
                .into());
            }
            let stored = StoredIdentifier {
                id: Uuid::now_v7(),
                member_id: member.id,
                kind: kind.to_owned(),
                value_index: index.clone(),
                value_enc: vault.seal(&identifier.key),
                matchable,
                created_at: m.now,
            };
            if !members::try_insert_identifier(&mut m.session, m.tenant, &stored).await? {
                let holder =
                    members::find_member_by_identifier(&mut m.session, m.tenant, kind, &index)
                        .await?;
                let holder = holder.map(|id| id.to_string()).unwrap_or_default();
                return Err(ApiError {
                    detail: Some(format!("this {kind} belongs to member {holder}")),
                    errors: vec![FieldError::new("value", "held_by_other_member", holder)],
                    ..ApiError::new(ErrorCode::Conflict)
                });
            }
            m.audit(
                "member.identifier_bound",
                "member",
                member.id,
                json!({ "identifier_id": stored.id, "kind": kind }),
            )
            .await?;
            identifier_view(&vault, &stored, reveal)
        })
    })
    .await
}

/// Unbind an identifier from a member.
#[utoipa::path(delete, path = "/members/{id}/identifiers/{identifier_id}", tag = "members",
    params(("id" = Uuid, Path), ("identifier_id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Unbound"), (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn unbind_identifier(
    State(app): State<AppState>,
    ApiPath((id, identifier_id)): ApiPath<(MemberId, Uuid)>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::MembersWrite)?;
    let scope = caller.clone();
    let response = app
        .mutate(&caller, &meta, StatusCode::OK, move |m| {
            Box::pin(async move {
                let (member, _) = visible_member(&mut m.session, &scope, id, Access::Write).await?;
                let identifiers =
                    members::list_identifiers(&mut m.session, m.tenant, member.id).await?;
                let target = identifiers
                    .iter()
                    .find(|i| i.id == identifier_id)
                    .ok_or_else(|| ApiError::not_found("identifier"))?;
                members::delete_identifier(&mut m.session, m.tenant, member.id, identifier_id)
                    .await?;
                m.audit(
                    "member.identifier_unbound",
                    "member",
                    member.id,
                    json!({ "identifier_id": identifier_id, "kind": target.kind }),
                )
                .await?;
                Ok(json!({ "unbound": identifier_id }))
            })
        })
        .await?;
    Ok(response)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConsent {
    pub channel: ConsentChannel,
    pub granted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentRecord {
    pub id: Uuid,
    pub channel: ConsentChannel,
    pub granted: bool,
    pub source_channel_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

fn record(consent: StoredConsent) -> ApiResult<ConsentRecord> {
    Ok(ConsentRecord {
        id: consent.id,
        channel: ConsentChannel::parse("channel", &consent.channel)
            .map_err(|_| ApiError::internal("stored consent channel"))?,
        granted: consent.granted,
        source_channel_id: consent.source_channel_id,
        recorded_at: consent.recorded_at,
    })
}

/// The member's full consent history, oldest first.
#[utoipa::path(get, path = "/members/{id}/consents", tag = "members", params(("id" = Uuid, Path)),
    responses((status = 200, description = "OK", body = Vec<ConsentRecord>), (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn list_consents(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<MemberId>,
) -> ApiResult<Json<Vec<ConsentRecord>>> {
    caller.require(Permission::MembersRead)?;
    let mut session = app.store.read().await?;
    let (member, _) = visible_member(&mut session, &caller, id, Access::Read).await?;
    let history = members::list_consents(&mut session, caller.tenant_id, member.id).await?;
    Ok(Json(
        history.into_iter().map(record).collect::<ApiResult<_>>()?,
    ))
}

/// Record a consent decision (grant or withdraw) for one outreach channel.
#[utoipa::path(post, path = "/members/{id}/consents", tag = "members", request_body = RecordConsent,
    params(("id" = Uuid, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Recorded", body = ConsentRecord), (status = 404, description = "Not found", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn record_consent(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<MemberId>,
    command: Command<RecordConsent>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let scope = caller.clone();
    let source_channel_id = match caller.actor {
        Actor::ApiKey { channel_id, .. } => Some(channel_id.0),
        _ => None,
    };
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let (member, _) = visible_member(&mut m.session, &scope, id, Access::Write).await?;
            if member.status != "active" {
                return Err(FieldError::new(
                    "id",
                    "not_active",
                    "only active members take identifiers and consents",
                )
                .into());
            }
            let consent = StoredConsent {
                id: Uuid::now_v7(),
                member_id: member.id,
                channel: body.channel.as_str().to_owned(),
                granted: body.granted,
                source_channel_id,
                recorded_at: m.now,
            };
            members::insert_consent(&mut m.session, m.tenant, &consent).await?;
            m.audit(
                "member.consent_recorded",
                "member",
                member.id,
                json!({ "channel": consent.channel, "granted": consent.granted }),
            )
            .await?;
            record(consent)
        })
    })
    .await
}
