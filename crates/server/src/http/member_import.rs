//! `/api/v1/members/import`: bulk import of legacy members from CSV text, with the same cleaning,
//! de-duplication and reports as `huiyuan import members` (see [`crate::app::identity::import`]).

use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::import::{
    ColumnView, DEFAULT_BATCH_ROWS, ImportCounts, Importer, PreparedBatch, ProbableDuplicate,
    RejectedRow, read_csv_text,
};
use crate::app::mutation::Mutation;
use crate::app::state::AppState;
use crate::http::extract::Command;
use crate::http::respond::Respond;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use huiyuan_domain::auth::Permission;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Most rows one request may carry (the body size limit usually binds first); larger files go
/// through the CLI, which commits batch by batch.
pub const MAX_API_ROWS: usize = 50_000;

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

/// What the import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResult {
    /// Names the run in the audit log (`member.imported` entries with target `member_import`).
    pub run_id: Uuid,
    pub dry_run: bool,
    /// How each column was read.
    pub columns: Vec<ColumnView>,
    pub counts: ImportCounts,
    /// Rows not imported, with their line number, reason and values.
    pub rejects: Vec<RejectedRow>,
    /// New members that are probably someone already known: for review, not merged.
    pub probable_duplicates: Vec<ProbableDuplicate>,
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
    let (columns, rows) = read_csv_text(&body.csv, &mapping, MAX_API_ROWS)?;
    let mut importer = Importer::new(
        app.vault.clone(),
        app.identity.clone(),
        caller.clone(),
        columns,
        "api",
    );
    // Cleaning and sealing are CPU work: off the async workers.
    let preparer = importer.preparer();
    let batches = tokio::task::spawn_blocking(move || {
        rows.chunks(DEFAULT_BATCH_ROWS)
            .map(|chunk| preparer.prepare(chunk.to_vec()))
            .collect::<Vec<PreparedBatch>>()
    })
    .await
    .map_err(ApiError::internal)?;
    if body.dry_run {
        // Run in a transaction that is never committed: every check, nothing kept.
        let mut m = Mutation::begin(
            &app.store,
            caller.tenant_id,
            caller.actor.clone(),
            meta.request_id.clone(),
        )
        .await?;
        let result = run(&mut importer, &mut m, &batches, true).await?;
        drop(m);
        return Ok((StatusCode::OK, Json(result)).into_response());
    }
    app.mutate(&caller, &meta, StatusCode::OK, move |m| {
        Box::pin(async move { run(&mut importer, m, &batches, false).await })
    })
    .await
}

async fn run(
    importer: &mut Importer,
    m: &mut Mutation,
    batches: &[PreparedBatch],
    dry_run: bool,
) -> ApiResult<ImportResult> {
    let mut rejects = Vec::new();
    let mut probable_duplicates = Vec::new();
    for batch in batches {
        let outcome = importer.import_batch(m, batch).await?;
        importer.absorb(&outcome);
        rejects.extend(outcome.rejects);
        probable_duplicates.extend(outcome.probable_duplicates);
    }
    Ok(ImportResult {
        run_id: importer.run_id(),
        dry_run,
        columns: importer.columns().mapped(),
        counts: importer.counts(),
        rejects,
        probable_duplicates,
    })
}
