//! `/api/v1/channels`: the doors members and orders come through (POS, mini-program, app …).

use crate::app::error::ApiResult;
use crate::app::mutation::WriteMeta;
use crate::app::org::channels::{self, ChannelChange, NewChannelFields};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Permission, Principal};
use huiyuan_domain::ids::{ChannelId, FormatId};
use huiyuan_domain::org::{Channel, ChannelKind};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_channels, create_channel))
        .routes(routes!(get_channel, update_channel, archive_channel))
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
    Ok(Json(
        channels::list(&mut session, &caller, page).await?.into(),
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
    let input = channels::parse_new(
        &caller,
        NewChannelFields {
            code: &body.code,
            name: &body.name,
            kind: body.kind,
            format_id: body.format_id,
            app_id: body.app_id.as_deref(),
        },
    )?;
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { channels::create(m, input).await })
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
    channels::get(&mut session, &caller, id).await.map(Json)
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
    let change =
        channels::parse_change(body.name.as_deref(), body.app_id.as_deref(), body.archived)?;
    change_channel(app, caller, meta, id, change).await
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
    change_channel(app, caller, meta, id, channels::archiving()).await
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
        Box::pin(async move { channels::change(m, &scope, id, change).await })
    })
    .await
}
