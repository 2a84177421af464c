//! `/api/v1/members/import`: bulk import of legacy members from CSV text, with the same cleaning,
//! de-duplication and reports as `huiyuan import members` (see [`crate::app::identity::import`]).

use crate::app::error::ApiResult;
use crate::app::identity::import::api::{ImportResult, dry_run, prepare, run};
use crate::app::state::AppState;
use crate::http::extract::Command;
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use huiyuan_domain::auth::Permission;
use serde::Deserialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(import_members))
}

/// `POST /api/v1/members/import`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportMembers {
    /// The CSV text (UTF-8), header row first. Headers recognised without a mapping: `phone`,
    /// `email`, `name`, `gender`, `birthday`, `province`, `city`, `district`, `address`, `card_no`,
    /// `legacy_id`, `unionid`, `id_card_no`, `store_code`, and common spellings such as `mobile`,
    /// `手机号`, `姓名`, `性别`, `生日`, `地址`, `卡号`, `会员编号`, `门店编码`. Other columns are ignored.
    #[schema(example = "手机号,姓名,性别,生日,卡号\n13800138000,张三,男,1990/5/1,C001\n")]
    pub csv: String,
    /// Header → member field for headers the defaults do not know (`"会员手机": "phone"`);
    /// `ignore` skips a column.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// Check and report without writing anything (an `Idempotency-Key` is then not needed and
    /// not recorded).
    #[serde(default)]
    pub dry_run: bool,
}

/// Import legacy members from CSV.
///
/// Each row becomes a member as registration would make it, unless its identifiers (phone, email, unionid, card number, legacy id) name a member already:
/// then the row fills that member's missing profile fields and binds its new identifiers. A row
/// naming two different members is rejected. Re-sending the same file changes nothing (every
/// row `unchanged`). The whole request is one transaction.
#[utoipa::path(post, path = "/members/import", tag = "members", request_body = ImportMembers,
    params(crate::http::IdempotencyKeyHeader),
    responses((status = 200, description = "Imported (or checked, for a dry run); see counts and rejects", body = ImportResult),
        (status = 403, description = "The caller lacks members:write", body = crate::http::problem::Problem),
        (status = 422, description = "The CSV or the mapping is unusable (no identifier column, unknown field, too many rows)", body = crate::http::problem::Problem)),
    security(("bearer" = [])))]
async fn import_members(
    State(app): State<AppState>,
    command: Command<ImportMembers>,
) -> ApiResult<Response> {
    let Command { caller, body, meta } = command;
    caller.require(Permission::MembersWrite)?;
    let mapping: Vec<(String, String)> = body.mapping.into_iter().collect();
    let (mut importer, batches) = prepare(&app, &caller, &body.csv, &mapping).await?;
    if body.dry_run {
        let result = dry_run(&app, &caller, meta.request_id.clone(), importer, batches).await?;
        return Ok((StatusCode::OK, Json(result)).into_response());
    }
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { run(&mut importer, m, &batches, false).await })
    })
    .await
}
