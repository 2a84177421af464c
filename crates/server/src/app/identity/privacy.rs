//! PIPL rights over a member's data: the export (everything held about the member — the right
//! of access and portability) and erasure (irreversible anonymisation — the right of deletion).
//!
//! What erasure does, and why:
//! - Removed: every identifier (so the old phone finds nobody and registers a new member), the
//!   sealed name, address and ID number with their blind indexes, the name search tokens, the
//!   demographic fields (gender, birthday, province, city, district) and the preferred store.
//!   Members merged into this one are scrubbed the same way (they stay `merged` aliases of the
//!   erased member), and the merge log entries involving them are deleted, because their undo
//!   snapshots hold the sealed data erasure must not leave: such merges can no longer be undone.
//! - Kept: the member row with its id, member number, source channel/format/store and guide, so
//!   ledgers and reports keep their totals and attributions. The guide is a staff account, not
//!   the member's data, and it keeps the anonymous record in the same data scope as before.
//! - Consent history: kept (channel, decision, time, recording channel — nothing that identifies
//!   anyone once the member is anonymous), as proof of what was consented and when; every channel
//!   still granted gets a final withdrawal, so nothing can message the erased member.
//! - The audit entry `member.erased` records counts and a reason category only. The reason is a
//!   category rather than free text because free text could carry the very data being erased.
//!
//! Erasing an erased member changes nothing and answers 200 again.

use crate::app::access::{locked_member, visible_member};
use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::view::{MemberView, current_consents, member_view};
use crate::app::mutation::Mutation;
use crate::app::state::AppState;
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::auth::{Access, Principal};
use huiyuan_domain::identity::{ConsentChannel, MemberStatus};
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::paging::PageRequest;
use huiyuan_store::audit::{self, AuditFilter};
use huiyuan_store::members::{self, StoredConsent, StoredMember};
use huiyuan_store::{Session, utc_now};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeSet;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most members merged into one that an export or erasure follows; real merge trees hold a few.
const MAX_MERGED_MEMBERS: usize = 1_000;
/// Most merge log entries one export lists.
const MAX_MERGES: i64 = 1_000;
/// Most audit entries one export carries; `audit_truncated` says when there were more.
const MAX_AUDIT_ENTRIES: usize = 10_000;
/// Audit entries read per query while exporting.
const AUDIT_PAGE: u32 = 200;

/// A member merged into the exported one.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergedMember {
    pub id: MemberId,
    pub member_no: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One consent decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentDecision {
    pub id: Uuid,
    pub channel: ConsentChannel,
    pub granted: bool,
    /// The channel that recorded it.
    pub source_channel_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

/// One merge the member took part in.
#[derive(Debug, Serialize, ToSchema)]
pub struct MergeRecord {
    pub id: Uuid,
    pub survivor_id: MemberId,
    pub source_id: MemberId,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub undone_at: Option<OffsetDateTime>,
}

/// Everything held about a member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberExport {
    #[serde(with = "time::serde::rfc3339")]
    pub exported_at: OffsetDateTime,
    /// Profile and identifiers in clear, current consents, source, guide, referral and every
    /// module's summary.
    pub member: MemberView,
    #[serde(with = "time::serde::rfc3339::option")]
    pub erased_at: Option<OffsetDateTime>,
    /// Members merged into this one.
    pub merged_members: Vec<MergedMember>,
    /// Every consent decision, oldest first (of this member and those merged into it).
    pub consent_history: Vec<ConsentDecision>,
    pub merges: Vec<MergeRecord>,
    /// The audit trail about this member and those merged into it, oldest first.
    pub audit: Vec<AuditEntry>,
    /// Whether the audit trail was longer than one export carries (10 000 entries).
    pub audit_truncated: bool,
}

/// Why a member was erased: a category, never free text (see the module notes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureReason {
    /// The member asked (PIPL art. 47).
    #[default]
    MemberRequest,
    /// The membership ended.
    AccountClosure,
    /// A law or an authority requires it.
    LegalObligation,
    /// The retention period ran out.
    RetentionExpired,
    Other,
}

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erasure {
    pub id: MemberId,
    pub member_no: String,
    /// Always `erased`.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    pub erased_at: OffsetDateTime,
    /// `true` when the member had been erased before: nothing was changed now.
    pub already_erased: bool,
    pub identifiers_removed: u64,
    pub merged_members_erased: usize,
}

/// Everything held about the member `id` within the caller's scope, read in `session`.
pub async fn build_export(
    session: &mut Session,
    app: &AppState,
    caller: &Principal,
    id: MemberId,
) -> ApiResult<MemberExport> {
    let tenant = caller.tenant_id;
    let (row, resolved_from) = visible_member(session, caller, id, Access::Read).await?;
    let merged = merged_members(session, tenant, row.id).await?;
    let people: Vec<MemberId> = std::iter::once(row.id)
        .chain(merged.iter().map(|m| m.id))
        .collect();
    let mut consent_history = Vec::new();
    let mut merges = Vec::new();
    let mut seen_merges = BTreeSet::new();
    let mut trail = Vec::new();
    let mut audit_truncated = false;
    for person in &people {
        for consent in members::list_consents(session, tenant, *person).await? {
            consent_history.push(ConsentDecision {
                id: consent.id,
                channel: ConsentChannel::parse("channel", &consent.channel)
                    .map_err(|_| ApiError::internal("stored consent channel"))?,
                granted: consent.granted,
                source_channel_id: consent.source_channel_id,
                recorded_at: consent.recorded_at,
            });
        }
        for merge in members::list_merges_involving(session, tenant, *person, MAX_MERGES).await? {
            if seen_merges.insert(merge.id) {
                merges.push(MergeRecord {
                    id: merge.id,
                    survivor_id: merge.survivor_id,
                    source_id: merge.source_id,
                    created_at: merge.created_at,
                    undone_at: merge.undone_at,
                });
            }
        }
        audit_truncated |= audit_trail(session, tenant, *person, &mut trail).await?;
    }
    consent_history.sort_by_key(|c| (c.recorded_at, c.id));
    merges.sort_by_key(|m| m.id);
    trail.sort_by_key(|entry| entry.id.0);
    let erased_at = row.erased_at;
    let member = member_view(
        session,
        &app.vault,
        app.profile_sections,
        tenant,
        row,
        true,
        resolved_from,
    )
    .await?;
    Ok(MemberExport {
        exported_at: utc_now(),
        member,
        erased_at,
        merged_members: merged
            .into_iter()
            .map(|m| MergedMember {
                id: m.id,
                member_no: m.member_no,
                created_at: m.created_at,
            })
            .collect(),
        consent_history,
        merges,
        audit: trail,
        audit_truncated,
    })
}

/// Appends the audit entries whose target is `member` to `trail`, up to [`MAX_AUDIT_ENTRIES`] in
/// all; `true` when some had to be left out.
async fn audit_trail(
    session: &mut Session,
    tenant: TenantId,
    member: MemberId,
    trail: &mut Vec<AuditEntry>,
) -> ApiResult<bool> {
    let filter = AuditFilter {
        target_type: Some("member".to_owned()),
        target_id: Some(member.to_string()),
        ..AuditFilter::default()
    };
    let mut page = PageRequest::first(AUDIT_PAGE);
    loop {
        let found = audit::list(session, tenant, &filter, page).await?;
        let last = found.items.last().map(|entry| entry.id.0);
        for entry in found.items {
            if trail.len() >= MAX_AUDIT_ENTRIES {
                return Ok(true);
            }
            trail.push(entry);
        }
        match (found.next_cursor, last) {
            (Some(_), Some(last)) => page.after = Some(last),
            _ => return Ok(false),
        }
    }
}

/// Every member merged into `survivor`, directly or through other merged members.
async fn merged_members(
    session: &mut Session,
    tenant: TenantId,
    survivor: MemberId,
) -> ApiResult<Vec<StoredMember>> {
    let mut found: Vec<StoredMember> = Vec::new();
    let mut next = 0;
    let mut current = survivor;
    loop {
        let limit = i64::try_from(MAX_MERGED_MEMBERS + 1).unwrap_or(i64::MAX);
        for alias in members::list_merged_into(session, tenant, current, limit).await? {
            if alias.id != survivor && !found.iter().any(|f| f.id == alias.id) {
                found.push(alias);
            }
        }
        if found.len() > MAX_MERGED_MEMBERS {
            return Err(ApiError::internal("too many members merged into one"));
        }
        let Some(alias) = found.get(next) else {
            return Ok(found);
        };
        current = alias.id;
        next += 1;
    }
}

/// Erases the member `id` (and those merged into it) in the open mutation.
pub async fn erase(
    m: &mut Mutation,
    scope: &Principal,
    id: MemberId,
    reason: ErasureReason,
) -> ApiResult<Erasure> {
    let (row, _) = locked_member(&mut m.session, scope, id).await?;
    if row.status == MemberStatus::Erased.as_str() {
        return Ok(Erasure {
            id: row.id,
            member_no: row.member_no,
            status: row.status,
            erased_at: row.erased_at.unwrap_or(row.updated_at),
            already_erased: true,
            identifiers_removed: 0,
            merged_members_erased: 0,
        });
    }
    let merged = merged_members(&mut m.session, m.tenant, row.id).await?;
    let merged_count = merged.len();
    let (mut identifiers_removed, mut merges_removed) = (0, 0);
    for alias in merged {
        let alias_id = alias.id;
        identifiers_removed += scrub(m, alias, MemberStatus::Merged).await?;
        merges_removed +=
            members::delete_merges_involving(&mut m.session, m.tenant, alias_id).await?;
    }
    let (member_id, member_no) = (row.id, row.member_no.clone());
    identifiers_removed += scrub(m, row, MemberStatus::Erased).await?;
    merges_removed += members::delete_merges_involving(&mut m.session, m.tenant, member_id).await?;
    // Decisions recorded for a merged member land on the survivor, so its own suffice.
    let consents_withdrawn = withdraw_consents(m, member_id).await?;
    // Points mall shipping addresses (redemptions follow merges to the survivor too).
    let shipping_addresses_erased =
        huiyuan_store::mall::redemptions::erase_addresses(&mut m.session, m.tenant, member_id)
            .await?;
    let summary = json!({
        "reason": reason,
        "identifiers_removed": identifiers_removed,
        "merged_members_erased": merged_count,
        "merge_log_entries_removed": merges_removed,
        "consents_withdrawn": consents_withdrawn,
        "shipping_addresses_erased": shipping_addresses_erased,
    });
    m.audit("member.erased", "member", member_id, summary)
        .await?;
    Ok(Erasure {
        id: member_id,
        member_no,
        status: MemberStatus::Erased.as_str().to_owned(),
        erased_at: m.now,
        already_erased: false,
        identifiers_removed,
        merged_members_erased: merged_count,
    })
}

/// Removes what identifies one member row and marks it erased; returns the identifiers removed.
async fn scrub(m: &mut Mutation, mut row: StoredMember, status: MemberStatus) -> ApiResult<u64> {
    let removed = members::delete_identifiers_of(&mut m.session, m.tenant, row.id).await?;
    members::replace_search_tokens(&mut m.session, m.tenant, row.id, &[]).await?;
    row.status = status.as_str().to_owned();
    row.name_enc = None;
    row.name_index = None;
    row.gender = None;
    row.birthday = None;
    row.province = None;
    row.city = None;
    row.district = None;
    row.address_enc = None;
    row.address_index = None;
    row.id_card_enc = None;
    row.id_card_index = None;
    row.preferred_store_id = None;
    row.erased_at = Some(m.now);
    row.updated_at = m.now;
    members::update_member(&mut m.session, m.tenant, &row).await?;
    Ok(removed)
}

/// Records a withdrawal for every channel whose latest decision is a grant; returns how many.
async fn withdraw_consents(m: &mut Mutation, member: MemberId) -> ApiResult<usize> {
    let history = members::list_consents(&mut m.session, m.tenant, member).await?;
    let granted: Vec<String> = current_consents(history)
        .into_iter()
        .filter(|(_, consent)| consent.granted)
        .map(|(channel, _)| channel)
        .collect();
    for channel in &granted {
        let withdrawal = StoredConsent {
            id: Uuid::now_v7(),
            member_id: member,
            channel: channel.clone(),
            granted: false,
            source_channel_id: None,
            recorded_at: m.now,
        };
        members::insert_consent(&mut m.session, m.tenant, &withdrawal).await?;
    }
    Ok(granted.len())
}
