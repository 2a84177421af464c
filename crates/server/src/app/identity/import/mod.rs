//! Legacy member import: rows of a CSV export from an old system become members exactly as API
//! registration makes them — the same normalisation (`huiyuan_domain::identity`), sealing and
//! blind indexes ([`crate::app::identity::sealed`]), identity policy, member numbers with check digit
//! and referral codes — thousands of rows per transaction.
//!
//! Each batch of rows goes through five steps:
//! 1. **Clean.** Columns map to fields (default headers in English and Chinese, or an explicit
//!    mapping); values are trimmed, empty and `NULL` read as absent, phones normalised to E.164,
//!    emails lower-cased, dates in the common legacy spellings, gender words. A row that does not
//!    parse is rejected with its line number and the reason.
//! 2. **Look up.** Every matchable identifier of the batch by blind index, one query per kind,
//!    then the members found and their identifiers in one query each — no round trip per row.
//! 3. **Decide, in file order**, against an identity map of the batch: no identifier known → a new
//!    member; identifiers of one member → merge into it (fill missing profile fields, bind new
//!    identifiers within the policy's limits); identifiers of two members → reject the row.
//! 4. **Write.** A block of member sequence numbers, multi-row inserts of members, identifiers and
//!    search tokens, one update per changed existing member, and one audit entry per batch that
//!    names every member created or merged (`member.imported`, target `member_import/<run id>`).
//! 5. **Review.** New members sharing name and birthday, or a similar name and the same address,
//!    with another member (or an earlier row) are reported as probable duplicates — never merged.
//!
//! Re-running a file changes nothing: every row then finds its member and brings nothing new.
//! Unlike single registration, a row whose only identifiers are shared or blocked ones is
//! rejected: nothing could find its member again, so a re-run would create it twice.

pub mod api;
mod cleaning;
mod columns;
mod decide;
mod importer;
mod lookup;
mod outcome;
mod reading;
mod report_files;
mod review;
mod run;
mod similarity;
#[cfg(test)]
mod tests;

pub use cleaning::{PreparedBatch, Preparer, normalise_date, parse_gender};
pub use columns::{ColumnView, Columns, Field, IGNORE, normalise_header, parse_mapping};
pub use importer::Importer;
pub use outcome::{BatchOutcome, ImportCounts, ProbableDuplicate, RejectedRow};
pub use reading::{CsvRows, SourceRow, read_csv_text};
pub use report_files::{DuplicateFile, RejectFile};
pub use run::{RunOptions, describe, import_csv};
pub use similarity::similar_names;

use importer::Defaults;

/// Rows per transaction when importing a file: large enough that per-statement costs vanish, small
/// enough that a server sharing the database waits at most a fraction of a second for the lock.
pub const DEFAULT_BATCH_ROWS: usize = 5_000;
/// Largest batch accepted.
pub const MAX_BATCH_ROWS: usize = 20_000;
/// Candidates reported per new member; a common name and birthday must not flood the report.
const MAX_CANDIDATES_PER_MEMBER: usize = 5;
/// How often a file batch is retried when a concurrent writer took one of its identifiers.
const MAX_BATCH_ATTEMPTS: u32 = 3;
/// Most columns a file may have.
const MAX_COLUMNS: usize = 200;
