//! `/api/v1/channels`: the doors members and orders come through (POS, mini-program, app …).

use crate::app::access::{visible, writable};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::WriteMeta;
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Access, Permission, Placement, Principal, RecordClass};
use huiyuan_domain::ids::{ChannelId, FormatId};
use huiyuan_domain::org::{Channel, ChannelKind, Code, Name, parse_app_id};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::org;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, archive_channel))
}

fn placement(channel: &Channel) -> Placement {
    Placement {
        format_id: channel.format_id,
        ..Placement::default()
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    pub code: String,
    pub name: String,
    pub kind: ChannelKind,
    /// Set for a format's own channel; absent for a group-wide one.
    pub format_id: Option<FormatId>,
    /// WeChat app id of a mini-program or official account.
    pub app_id: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannel {
    pub name: Option<String>,
    pub app_id: Option<String>,
    pub archived: Option<bool>,
}

/// List the channels visible to the caller (group-wide channels are visible to all).
#[utoipa::path(get, path = "/channels", tag = "organisation", params(PageQuery),
    responses((status = 200, description = "OK", body = PageBody<Channel>)), security(("bearer" = [])))]
async fn list_channels(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageBody<Channel>>> {
    caller.require(Permission::OrgRead)?;
    let page = query.request()?;
    let mut session = app.store.read().await?;
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    Ok(Json(
        org::list_channels(&mut session, caller.tenant_id, &predicate, page)
            .await?
            .into(),
    ))
}

/// Create a channel; group-wide channels need the tenant scope.
#[utoipa::path(post, path = "/channels", tag = "organisation", request_body = CreateChannel,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = Channel), (status = 409, description = "Conflict", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_channel(
    State(app): State<AppState>,
    command: Command<CreateChannel>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    writable(
        &caller,
        RecordClass::Org,
        &Placement {
            format_id: body.format_id,
            ..Placement::default()
        },
    )?;
    let mut errors = FieldErrors::new();
    let code = errors.take(Code::parse("code", &body.code));
    let name = errors.take(Name::parse("name", &body.name));
    let app_id = body
        .app_id
        .as_deref()
        .and_then(|app_id| errors.take(parse_app_id("app_id", app_id)));
    errors.finish()?;
    let (Some(code), Some(name)) = (code, name) else {
        return Err(FieldErrors::new().into());
    };
    let (kind, format_id) = (body.kind, body.format_id);
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            if let Some(format_id) = format_id
                && org::get_format(&mut m.session, m.tenant, format_id)
                    .await?
                    .is_none()
            {
                return Err(FieldError::new("format_id", "not_found", "no such format").into());
            }
            let channel = Channel {
                id: ChannelId::new(),
                code,
                name,
                kind,
                format_id,
                app_id,
                archived: false,
                created_at: m.now,
                updated_at: m.now,
            };
            org::insert_channel(&mut m.session, m.tenant, &channel)
                .await
                .map_err(|error| {
                    if org::is_channel_code_conflict(&error) {
                        ApiError::conflict("code", "a channel with this code already exists")
                    } else {
                        error.into()
                    }
                })?;
            m.audit("channel.created", "channel", channel.id, json!(channel))
                .await?;
            Ok(channel)
        })
    })
    .await
}

/// Get one channel.
#[utoipa::path(get, path = "/channels/{id}", tag = "organisation", params(("id" = ChannelId, Path)),
    responses((status = 200, description = "OK", body = Channel), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn get_channel(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<ChannelId>,
) -> ApiResult<Json<Channel>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    let channel = org::get_channel(&mut session, caller.tenant_id, id).await?;
    visible(&caller, channel, RecordClass::Org, placement, "channel").map(Json)
}

/// Rename a channel, change its app id, or (un)archive it. Archiving disables its API keys.
#[utoipa::path(patch, path = "/channels/{id}", tag = "organisation", request_body = UpdateChannel,
    params(("id" = ChannelId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = Channel), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn update_channel(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
    command: Command<UpdateChannel>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    let mut errors = FieldErrors::new();
    let name = body
        .name
        .as_deref()
        .and_then(|name| errors.take(Name::parse("name", name)));
    let app_id = body
        .app_id
        .as_deref()
        .and_then(|app_id| errors.take(parse_app_id("app_id", app_id)));
    errors.finish()?;
    change_channel(
        app,
        caller,
        meta,
        id,
        ChannelChange {
            name,
            app_id,
            archived: body.archived,
        },
    )
    .await
}

/// Archive a channel; its API keys stop working.
#[utoipa::path(delete, path = "/channels/{id}", tag = "organisation",
    params(("id" = ChannelId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = Channel), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn archive_channel(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<ChannelId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::ConfigWrite)?;
    change_channel(
        app,
        caller,
        meta,
        id,
        ChannelChange {
            archived: Some(true),
            ..ChannelChange::default()
        },
    )
    .await
}

#[derive(Default)]
struct ChannelChange {
    name: Option<Name>,
    app_id: Option<String>,
    archived: Option<bool>,
}

async fn change_channel(
    app: AppState,
    caller: Principal,
    meta: WriteMeta,
    id: ChannelId,
    change: ChannelChange,
) -> ApiResult<Response> {
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move {
            let before = org::get_channel(&mut m.session, m.tenant, id).await?;
            let before = visible(&scope, before, RecordClass::Org, placement, "channel")?;
            writable(&scope, RecordClass::Org, &placement(&before))?;
            let mut after = before.clone();
            if let Some(name) = change.name {
                after.name = name;
            }
            if let Some(app_id) = change.app_id {
                after.app_id = Some(app_id);
            }
            if let Some(archived) = change.archived {
                after.archived = archived;
            }
            after.updated_at = m.now;
            m.config_changed();
            org::update_channel(&mut m.session, m.tenant, &after).await?;
            m.audit(
                "channel.updated",
                "channel",
                id,
                json!({ "before": before, "after": after }),
            )
            .await?;
            Ok(after)
        })
    })
    .await
}
