//! The import API's use case: CSV text in one request, imported in one transaction (or checked
//! in one that is never committed), with the same cleaning, de-duplication and reports as
//! `huiyuan import members`.

use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::import::{
    ColumnView, DEFAULT_BATCH_ROWS, ImportCounts, Importer, PreparedBatch, ProbableDuplicate,
    RejectedRow, read_csv_text,
};
use crate::app::mutation::Mutation;
use crate::app::state::AppState;
use huiyuan_domain::auth::Principal;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most rows one request may carry (the body size limit usually binds first); larger files go
/// through the CLI, which commits batch by batch.
pub const MAX_API_ROWS: usize = 50_000;

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

/// Reads the CSV text and cleans and seals its rows in batches, off the async workers (CPU work).
pub async fn prepare(
    app: &AppState,
    caller: &Principal,
    csv: &str,
    mapping: &[(String, String)],
) -> ApiResult<(Importer, Vec<PreparedBatch>)> {
    let (columns, rows) = read_csv_text(csv, mapping, MAX_API_ROWS)?;
    let importer = Importer::new(
        app.vault.clone(),
        app.identity.clone(),
        caller.clone(),
        columns,
        "api",
    );
    let preparer = importer.preparer();
    let batches = tokio::task::spawn_blocking(move || {
        rows.chunks(DEFAULT_BATCH_ROWS)
            .map(|chunk| preparer.prepare(chunk.to_vec()))
            .collect::<Vec<PreparedBatch>>()
    })
    .await
    .map_err(ApiError::internal)?;
    Ok((importer, batches))
}

/// Every check of the import in a transaction that is never committed: nothing is kept. Not
/// through the write path, which always commits (and keeps the answer under the Idempotency-Key).
pub async fn dry_run(
    app: &AppState,
    caller: &Principal,
    request_id: Option<String>,
    mut importer: Importer,
    batches: Vec<PreparedBatch>,
) -> ApiResult<ImportResult> {
    let mut m = Mutation::begin(
        &app.store,
        caller.tenant_id,
        caller.actor.clone(),
        request_id,
    )
    .await?;
    let result = run(&mut importer, &mut m, &batches, true).await?;
    drop(m);
    Ok(result)
}

/// Imports the prepared batches in the open mutation.
pub async fn run(
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
