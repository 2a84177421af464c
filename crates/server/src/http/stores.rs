//! `/api/v1/stores`: stores and mall merchants (商户), each in one format.

use crate::app::error::ApiResult;
use crate::app::mutation::WriteMeta;
use crate::app::org::stores::{self, NewStoreFields, StoreChange};
use crate::app::state::AppState;
use crate::http::extract::{ApiPath, ApiQuery, Caller, Command};
use crate::http::paging::{PageBody, PageQuery};
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use huiyuan_domain::auth::{Permission, Principal};
use huiyuan_domain::ids::{FormatId, StoreId};
use huiyuan_domain::org::{Store, StoreKind};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores, create_store))
        .routes(routes!(get_store, update_store, archive_store))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStore {
    pub format_id: FormatId,
    /// Business key, unique in the tenant (e.g. the ERP store number).
    pub code: String,
    pub name: String,
    /// `store` (default) or `merchant`.
    pub kind: Option<StoreKind>,
    pub address: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStore {
    pub name: Option<String>,
    pub address: Option<String>,
    pub archived: Option<bool>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StoreQuery {
    /// Only stores of this format.
    pub format_id: Option<FormatId>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// List the stores visible to the caller.
#[utoipa::path(get, path = "/stores", tag = "organisation", params(StoreQuery),
    responses((status = 200, description = "OK", body = PageBody<Store>)), security(("bearer" = [])))]
async fn list_stores(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(query): ApiQuery<StoreQuery>,
) -> ApiResult<Json<PageBody<Store>>> {
    caller.require(Permission::OrgRead)?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .request()?;
    let mut session = app.store.read().await?;
    let listed = stores::list(&mut session, &caller, query.format_id, page).await?;
    Ok(Json(listed.into()))
}

/// Create a store or merchant in a format the caller administers.
#[utoipa::path(post, path = "/stores", tag = "organisation", request_body = CreateStore,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 201, description = "Created", body = Store), (status = 409, description = "Conflict", body = crate::http::problem::Problem),
        (status = 422, description = "Invalid input", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn create_store(
    State(app): State<AppState>,
    command: Command<CreateStore>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    let input = stores::parse_new(
        &caller,
        NewStoreFields {
            format_id: body.format_id,
            code: &body.code,
            name: &body.name,
            kind: body.kind,
            address: body.address.as_deref(),
        },
    )?;
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move { stores::create(m, input).await })
    })
    .await
}

/// Get one store.
#[utoipa::path(get, path = "/stores/{id}", tag = "organisation", params(("id" = StoreId, Path)),
    responses((status = 200, description = "OK", body = Store), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn get_store(
    State(app): State<AppState>,
    Caller(caller): Caller,
    ApiPath(id): ApiPath<StoreId>,
) -> ApiResult<Json<Store>> {
    caller.require(Permission::OrgRead)?;
    let mut session = app.store.read().await?;
    stores::get(&mut session, &caller, id).await.map(Json)
}

/// Rename, re-address or (un)archive a store.
#[utoipa::path(patch, path = "/stores/{id}", tag = "organisation", request_body = UpdateStore,
    params(("id" = StoreId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = Store), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn update_store(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<StoreId>,
    command: Command<UpdateStore>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::ConfigWrite)?;
    let change =
        stores::parse_change(body.name.as_deref(), body.address.as_deref(), body.archived)?;
    change_store(app, caller, meta, id, change).await
}

/// Archive a store: it keeps its history but takes no new business.
#[utoipa::path(delete, path = "/stores/{id}", tag = "organisation",
    params(("id" = StoreId, Path), crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "OK", body = Store), (status = 404, description = "Not found", body = crate::http::problem::Problem)), security(("bearer" = [])))]
async fn archive_store(
    State(app): State<AppState>,
    ApiPath(id): ApiPath<StoreId>,
    command: Command<serde_json::Value>,
) -> ApiResult<Response> {
    let Command { caller, meta, .. } = command;
    caller.require(Permission::ConfigWrite)?;
    change_store(app, caller, meta, id, stores::archiving()).await
}

async fn change_store(
    app: AppState,
    caller: Principal,
    meta: WriteMeta,
    id: StoreId,
    change: StoreChange,
) -> ApiResult<Response> {
    let scope = caller.clone();
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { stores::change(m, &scope, id, change).await })
    })
    .await
}
