//! What a batch and a run did: counts, rejected rows, probable duplicates.

use crate::app::identity::import::SourceRow;
use crate::app::identity::import::cleaning::Refusal;
use huiyuan_domain::ids::MemberId;
use serde::Serialize;
use utoipa::ToSchema;

/// How rows fared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportCounts {
    /// Data rows read (blank rows are skipped and not counted).
    pub rows: u64,
    /// New members.
    pub created: u64,
    /// Rows that matched a member and added to it (missing profile fields, new identifiers).
    pub merged: u64,
    /// Rows that matched a member and brought nothing new.
    pub unchanged: u64,
    pub rejected: u64,
    /// Rows naming a member an earlier row of the same file named (included in merged/unchanged).
    pub duplicates_in_file: u64,
    /// New members reported as probably the same person as another member.
    pub probable_duplicates: u64,
}

impl ImportCounts {
    pub(super) fn add(&mut self, other: &ImportCounts) {
        self.rows += other.rows;
        self.created += other.created;
        self.merged += other.merged;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
        self.duplicates_in_file += other.duplicates_in_file;
        self.probable_duplicates += other.probable_duplicates;
    }
}

/// A row that was not imported.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RejectedRow {
    /// Line in the file where the row starts (the header is line 1).
    pub line: u64,
    /// Stable reason code: `invalid_value`, `no_identifier`, `no_matchable_identifier`,
    /// `conflicting_members`, `inactive_member`, `unknown_store`, `out_of_scope`, `limit_exceeded`
    /// or `malformed_row`.
    pub code: String,
    pub reason: String,
    /// The row's values as read.
    pub values: Vec<String>,
}

/// A new member that is probably someone already known; for review, never merged.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ProbableDuplicate {
    pub line: u64,
    pub member_id: MemberId,
    pub member_no: String,
    /// `same_name_and_birthday` or `similar_name_and_same_address`.
    pub reason: String,
    pub candidate_id: MemberId,
    pub candidate_member_no: String,
    /// The line that created the candidate, when an earlier row of this import did.
    pub candidate_line: Option<u64>,
}

/// What one batch did; [`Importer::absorb`] adds it to the run once its transaction committed.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub counts: ImportCounts,
    pub rejects: Vec<RejectedRow>,
    pub probable_duplicates: Vec<ProbableDuplicate>,
    /// Members the rows named, with the first line naming each.
    pub(super) named: Vec<(MemberId, u64)>,
    pub(super) created: Vec<(MemberId, u64)>,
}

impl BatchOutcome {
    pub(super) fn reject(&mut self, row: &SourceRow, refusal: Refusal) {
        self.counts.rejected += 1;
        self.rejects.push(RejectedRow {
            line: row.line,
            code: refusal.code.to_owned(),
            reason: refusal.reason,
            values: row.values.clone(),
        });
    }
}
