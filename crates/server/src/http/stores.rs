//! `/api/v1/stores`: stores and mall merchants (商户), each in one format.

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
use huiyuan_domain::ids::{FormatId, StoreId};
use huiyuan_domain::org::{Code, Name, Store, StoreKind, parse_address};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::org;
use serde::Deserialize;
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_stores, create_store))
        .routes(routes!(get_store, update_store, archive_store))
}

fn placement(store: &Store) -> Placement {
    Placement::store(store.format_id, store.id)
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
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    Ok(Json(
        org::list_stores(
            &mut session,
            caller.tenant_id,
            &predicate,
            query.format_id,
            page,
        )
        .await?
        .into(),
    ))
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
    writable(
        &caller,
        RecordClass::Org,
        &Placement::format(body.format_id),
    )?;
    let mut errors = FieldErrors::new();
    let code = errors.take(Code::parse("code", &body.code));
    let name = errors.take(Name::parse("name", &body.name));
    let address = errors.take(parse_address(
        "address",
        body.address.as_deref().unwrap_or(""),
    ));
    errors.finish()?;
    let (Some(code), Some(name), Some(address)) = (code, name, address) else {
        return Err(FieldErrors::new().into());
    };
    let format_id = body.format_id;
    let kind = body.kind.unwrap_or(StoreKind::Store);
    app.mutate(&caller, &meta, StatusCode::CREATED, move |m| {
        Box::pin(async move {
            let format = org::get_format(&mut m.session, m.tenant, format_id).await?;
            match format {
                Some(format) if !format.archived => {}
                Some(_) => {
                    return Err(
                        FieldError::new("format_id", "archived", "the format is archived").into(),
                    );
                }
                None => {
                    return Err(FieldError::new("format_id", "not_found", "no such format").into());
                }
            }
            let store = Store {
                id: StoreId::new(),
                format_id,
                code,
                name,
                kind,
                address,
                archived: false,
                created_at: m.now,
                updated_at: m.now,
            };
            org::insert_store(&mut m.session, m.tenant, &store)
                .await
                .map_err(|error| {
                    if org::is_store_code_conflict(&error) {
                        ApiError::conflict("code", "a store with this code already exists")
                    } else {
                        error.into()
                    }
                })?;
            m.audit("store.created", "store", store.id, json!(store))
                .await?;
            Ok(store)
        })
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
    let store = org::get_store(&mut session, caller.tenant_id, id).await?;
    visible(&caller, store, RecordClass::Org, placement, "store").map(Json)
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
    let mut errors = FieldErrors::new();
    let name = body
        .name
        .as_deref()
        .and_then(|name| errors.take(Name::parse("name", name)));
    let address = body
        .address
        .as_deref()
        .and_then(|address| errors.take(parse_address("address", address)));
    errors.finish()?;
    change_store(
        app,
        caller,
        meta,
        id,
        StoreChange {
            name,
            address,
            archived: body.archived,
        },
    )
    .await
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
    change_store(
        app,
        caller,
        meta,
        id,
        StoreChange {
            archived: Some(true),
            ..StoreChange::default()
        },
    )
    .await
}

#[derive(Default)]
struct StoreChange {
    name: Option<Name>,
    address: Option<String>,
    archived: Option<bool>,
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
        Box::pin(async move {
            let before = org::get_store(&mut m.session, m.tenant, id).await?;
            let before = visible(&scope, before, RecordClass::Org, placement, "store")?;
            writable(&scope, RecordClass::Org, &placement(&before))?;
            let mut after = before.clone();
            if let Some(name) = change.name {
                after.name = name;
            }
            if let Some(address) = change.address {
                after.address = address;
            }
            if let Some(archived) = change.archived {
                after.archived = archived;
            }
            after.updated_at = m.now;
            m.config_changed();
            org::update_store(&mut m.session, m.tenant, &after).await?;
            m.audit(
                "store.updated",
                "store",
                id,
                json!({ "before": before, "after": after }),
            )
            .await?;
            Ok(after)
        })
    })
    .await
}
