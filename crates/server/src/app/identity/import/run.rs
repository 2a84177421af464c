//! Running a whole file: batches read and cleaned on a thread beside the database work, one
//! transaction each, retried on a concurrent write; a dry run rolls back.

use crate::app::error::{ApiError, ErrorCode};
use crate::app::identity::import::{
    BatchOutcome, CsvRows, DEFAULT_BATCH_ROWS, ImportCounts, Importer, MAX_BATCH_ATTEMPTS,
    MAX_BATCH_ROWS, PreparedBatch,
};
use crate::app::mutation::Mutation;
use huiyuan_store::{Store, members};
use std::io;

/// How a file import runs.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Check and report without writing anything.
    pub dry_run: bool,
    /// Rows per transaction (1 to [`MAX_BATCH_ROWS`]).
    pub batch_rows: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            batch_rows: DEFAULT_BATCH_ROWS,
        }
    }
}

/// Imports every row of `source`: one transaction per batch, each retried when a concurrent
/// writer took one of its identifiers first. Reading, cleaning and sealing run on a blocking
/// thread one batch ahead of the database work. A dry run keeps one transaction open for the
/// whole file and rolls it back at the end, so each batch still sees what the earlier ones would
/// have written. After each batch `progress` gets the batch's outcome, the run's counts and the
/// bytes read so far.
pub async fn import_csv<R: io::Read + Send + 'static>(
    store: &Store,
    importer: &mut Importer,
    source: CsvRows<R>,
    options: RunOptions,
    progress: impl FnMut(&BatchOutcome, &ImportCounts, u64) -> io::Result<()>,
) -> anyhow::Result<ImportCounts> {
    let mut session = store.write().await?;
    let tuning = members::enter_bulk_mode(&mut session).await?;
    session.commit().await?;
    let imported = import_batches(store, importer, source, options, progress).await;
    let mut session = store.write().await?;
    members::leave_bulk_mode(&mut session, tuning).await?;
    session.commit().await?;
    imported
}

pub(super) async fn import_batches<R: io::Read + Send + 'static>(
    store: &Store,
    importer: &mut Importer,
    mut source: CsvRows<R>,
    options: RunOptions,
    mut progress: impl FnMut(&BatchOutcome, &ImportCounts, u64) -> io::Result<()>,
) -> anyhow::Result<ImportCounts> {
    let batch_rows = options.batch_rows.clamp(1, MAX_BATCH_ROWS);
    let (tenant, actor) = (importer.caller.tenant_id, importer.caller.actor.clone());
    // One batch waits in the channel while the next is prepared: memory stays bounded.
    let (sender, mut prepared) =
        tokio::sync::mpsc::channel::<Result<(PreparedBatch, u64), String>>(1);
    let preparer = importer.preparer();
    let reader = tokio::task::spawn_blocking(move || {
        loop {
            let next = match source.next_batch(batch_rows) {
                Ok(rows) if rows.is_empty() => return,
                Ok(rows) => Ok((preparer.prepare(rows), source.bytes_read())),
                Err(error) => Err(error.message),
            };
            let failed = next.is_err();
            // A closed channel means the import stopped; so does a read error, once sent.
            if sender.blocking_send(next).is_err() || failed {
                return;
            }
        }
    });
    // Not through `AppState::write`: the CLI imports without a server state (no writer lane),
    // each batch in a transaction of its own, retried on a conflict; a dry run's one transaction
    // is never committed.
    let mut dry = match options.dry_run {
        true => Some(
            Mutation::begin(store, tenant, actor.clone(), None)
                .await
                .map_err(describe)?,
        ),
        false => None,
    };
    let mut batches: u64 = 0;
    while let Some(next) = prepared.recv().await {
        let (batch, bytes_read) = next.map_err(anyhow::Error::msg)?;
        let outcome = match dry.as_mut() {
            Some(m) => importer.import_batch(m, &batch).await.map_err(describe)?,
            None => {
                let mut attempt = 1;
                loop {
                    let mut m = Mutation::begin(store, tenant, actor.clone(), None)
                        .await
                        .map_err(describe)?;
                    let done = match importer.import_batch(&mut m, &batch).await {
                        Ok(outcome) => m.commit().await.map(|()| outcome),
                        Err(error) => Err(error),
                    };
                    match done {
                        Ok(outcome) => break outcome,
                        Err(error)
                            if error.code == ErrorCode::Conflict
                                && attempt < MAX_BATCH_ATTEMPTS =>
                        {
                            tracing::info!(
                                attempt,
                                "an import batch met a concurrent write; retrying"
                            );
                            attempt += 1;
                        }
                        Err(error) => return Err(describe(error)),
                    }
                }
            }
        };
        importer.absorb(&outcome);
        batches += 1;
        // After batches 1, 2, 4, 8 …: statistics keep pace with the tables' growth at a cost
        // that vanishes as they grow.
        if dry.is_none() && batches.is_power_of_two() {
            let mut session = store.write().await?;
            members::refresh_statistics(&mut session).await?;
            session.commit().await?;
        }
        progress(&outcome, &importer.counts, bytes_read)?;
    }
    // A dry run's transaction rolls back here.
    drop(dry);
    reader.await?;
    Ok(importer.counts)
}

/// An API error as a sentence for the shell, with its internal cause (the operator's own).
pub fn describe(error: ApiError) -> anyhow::Error {
    let mut text = error
        .detail
        .unwrap_or_else(|| error.code.title().to_owned());
    for field in &error.errors {
        text.push_str(&format!("; {}: {}", field.field, field.message));
    }
    if let Some(cause) = error.cause {
        text.push_str(&format!(" ({cause})"));
    }
    anyhow::anyhow!(text)
}
