//! Merging two members and undoing a merge.
//!
//! A merge moves every member-owned row of the source to the survivor (the store's registry,
//! `merges::MEMBER_OWNED`), fills the survivor's empty profile fields from the source, and turns
//! the source into an alias (`merged`, `merged_into`) that look-ups resolve to the survivor. The
//! merge log keeps the moved row ids and the survivor as it was, so undoing a merge moves exactly
//! those rows back and empties exactly the fields the merge filled. Merges into one member are
//! undone last-first: an earlier merge's snapshot knows nothing of the later ones.
//!
//! Both members are locked for the whole transaction (PostgreSQL; SQLite has one writer), and
//! their state is checked again once locked, so two merges of the same pair cannot both apply.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::identity::view::placement;
use crate::app::mutation::Mutation;
use crate::app::profile::SectionFuture;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Access, Denied, Principal, RecordClass};
use huiyuan_domain::identity::MemberStatus;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::Session;
use huiyuan_store::members::merges::{self, MEMBER_OWNED, StoredMerge};
use huiyuan_store::members::{self, StoredMember};
use serde_json::json;
use std::collections::BTreeMap;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// How many of the latest merges the profile summary names.
const SUMMARY_SOURCES: i64 = 5;

/// A member as `visible_member` found it: the row past any merge alias, and the id asked for
/// when that was an alias.
pub type Found = (StoredMember, Option<MemberId>);

/// What a merge did.
#[derive(Clone, Debug)]
pub struct Merged {
    pub merge_id: Uuid,
    pub survivor_id: MemberId,
    pub source_id: MemberId,
    /// Rows moved to the survivor, per member-owned table.
    pub moved: BTreeMap<String, usize>,
    /// Rows left with the source because the survivor already holds their like, per table.
    pub kept: BTreeMap<String, i64>,
    /// Profile fields the survivor took from the source.
    pub filled: Vec<&'static str>,
}

/// What undoing a merge did.
#[derive(Clone, Debug)]
pub struct Unmerged {
    pub merge_id: Uuid,
    pub survivor_id: MemberId,
    pub source_id: MemberId,
    /// Rows moved back to the source, per table (fewer than moved when some were deleted since).
    pub moved_back: BTreeMap<String, u64>,
    /// Profile fields emptied again on the survivor (those changed since the merge stay).
    pub restored: Vec<&'static str>,
}

/// A group of profile columns the survivor takes from the source when its own are empty; the
/// columns of a group move together (a sealed value with its index, a region's three levels).
struct Fillable {
    name: &'static str,
    is_empty: fn(&StoredMember) -> bool,
    same: fn(&StoredMember, &StoredMember) -> bool,
    copy: fn(&mut StoredMember, &StoredMember),
}

const FILLABLE: &[Fillable] = &[
    Fillable {
        name: "name",
        is_empty: |m| m.name_enc.is_none(),
        // Compared by blind index: every re-seal (a profile change, a key rotation) changes the ciphertext.
        same: |a, b| a.name_enc.is_some() == b.name_enc.is_some() && a.name_index == b.name_index,
        copy: |to, from| {
            to.name_enc = from.name_enc.clone();
            to.name_index = from.name_index.clone();
        },
    },
    Fillable {
        name: "gender",
        // `unknown` says as little as no answer.
        is_empty: |m| m.gender.as_deref().is_none_or(|g| g == "unknown"),
        same: |a, b| a.gender == b.gender,
        copy: |to, from| to.gender = from.gender.clone(),
    },
    Fillable {
        name: "birthday",
        is_empty: |m| m.birthday.is_none(),
        same: |a, b| a.birthday == b.birthday,
        copy: |to, from| to.birthday = from.birthday,
    },
    Fillable {
        // Province, city and district together, so a region is never half one member's.
        name: "region",
        is_empty: |m| m.province.is_none() && m.city.is_none() && m.district.is_none(),
        same: |a, b| a.province == b.province && a.city == b.city && a.district == b.district,
        copy: |to, from| {
            to.province = from.province.clone();
            to.city = from.city.clone();
            to.district = from.district.clone();
        },
    },
    Fillable {
        name: "address",
        is_empty: |m| m.address_enc.is_none(),
        same: |a, b| {
            a.address_enc.is_some() == b.address_enc.is_some() && a.address_index == b.address_index
        },
        copy: |to, from| {
            to.address_enc = from.address_enc.clone();
            to.address_index = from.address_index.clone();
        },
    },
    Fillable {
        name: "id_card_no",
        is_empty: |m| m.id_card_enc.is_none(),
        same: |a, b| {
            a.id_card_enc.is_some() == b.id_card_enc.is_some() && a.id_card_index == b.id_card_index
        },
        copy: |to, from| {
            to.id_card_enc = from.id_card_enc.clone();
            to.id_card_index = from.id_card_index.clone();
        },
    },
    Fillable {
        name: "guide_id",
        is_empty: |m| m.guide_id.is_none(),
        same: |a, b| a.guide_id == b.guide_id,
        copy: |to, from| to.guide_id = from.guide_id,
    },
    Fillable {
        name: "preferred_store_id",
        is_empty: |m| m.preferred_store_id.is_none(),
        same: |a, b| a.preferred_store_id == b.preferred_store_id,
        copy: |to, from| to.preferred_store_id = from.preferred_store_id,
    },
];

/// Best of both: every group empty on the survivor and set on the source is copied (sealed
/// values as stored: one keyring seals both). Answers the groups copied.
fn fill_from_source(survivor: &mut StoredMember, source: &StoredMember) -> Vec<&'static str> {
    let mut filled = Vec::new();
    for field in FILLABLE {
        if (field.is_empty)(survivor) && !(field.is_empty)(source) {
            (field.copy)(survivor, source);
            filled.push(field.name);
        }
    }
    filled
}

/// Undoes [`fill_from_source`]: a group the merge filled (empty `before`, set on the source) and
/// still holding the source's value goes back to `before`; one changed since the merge stays.
fn restore_filled(
    survivor: &mut StoredMember,
    before: &StoredMember,
    source: &StoredMember,
) -> Vec<&'static str> {
    let mut restored = Vec::new();
    for field in FILLABLE {
        let filled_by_merge = (field.is_empty)(before) && !(field.is_empty)(source);
        if filled_by_merge && (field.same)(survivor, source) {
            (field.copy)(survivor, before);
            restored.push(field.name);
        }
    }
    restored
}

/// A 409 about the state of a member, with a field error carrying a stable code.
fn state_conflict(field: &str, code: &'static str, message: String) -> ApiError {
    ApiError {
        errors: vec![FieldError::new(field, code, message.clone())],
        ..ApiError::with_detail(ErrorCode::Conflict, message)
    }
}

/// Refuses a member that is not active, naming why.
fn require_active(field: &str, row: &StoredMember) -> ApiResult<()> {
    if row.status == MemberStatus::Active.as_str() {
        return Ok(());
    }
    Err(match row.merged_into {
        Some(survivor) if row.status == MemberStatus::Merged.as_str() => state_conflict(
            field,
            "member_merged",
            format!("member {} has been merged into {survivor}", row.id),
        ),
        _ => state_conflict(
            field,
            "not_active",
            format!("member {} is {}, not active", row.id, row.status),
        ),
    })
}

/// Reads a member again after locking it: what was read before the lock may be stale.
async fn reread(m: &mut Mutation, id: MemberId) -> ApiResult<StoredMember> {
    members::get_member(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("member"))
}

fn require_writable(caller: &Principal, row: &StoredMember) -> ApiResult<()> {
    if caller.permits(Access::Write, RecordClass::MemberData, &placement(row)) {
        Ok(())
    } else {
        Err(Denied::OutOfScope.into())
    }
}

/// Replaces a member's name search tokens with those of its (sealed) name, or none.
async fn reindex_name(m: &mut Mutation, vault: &Vault, row: &StoredMember) -> ApiResult<()> {
    let tokens = match &row.name_enc {
        Some(sealed) => vault.name_tokens(&vault.open(sealed).map_err(ApiError::internal)?),
        None => Vec::new(),
    };
    members::replace_search_tokens(&mut m.session, m.tenant, row.id, &tokens).await?;
    Ok(())
}

/// Merges `source` into `survivor` in the open mutation. Both were found by `visible_member`
/// with write access; a merge alias given for either is refused rather than followed.
pub async fn merge(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    survivor: Found,
    source: Found,
) -> ApiResult<Merged> {
    let ((survivor, survivor_alias), (source, source_alias)) = (survivor, source);
    if let Some(alias) = survivor_alias {
        return Err(state_conflict(
            "id",
            "member_merged",
            format!(
                "member {alias} has been merged into {}; merge into that member",
                survivor.id
            ),
        ));
    }
    if let Some(alias) = source_alias {
        return Err(state_conflict(
            "source_member_id",
            "member_merged",
            format!("member {alias} has already been merged into {}", source.id),
        ));
    }
    if survivor.id == source.id {
        return Err(FieldError::new(
            "source_member_id",
            "same_member",
            "a member cannot be merged into itself",
        )
        .into());
    }
    merges::lock_members(&mut m.session, m.tenant, &[survivor.id, source.id]).await?;
    let (mut survivor, mut source) = (reread(m, survivor.id).await?, reread(m, source.id).await?);
    require_active("id", &survivor)?;
    require_active("source_member_id", &source)?;
    require_writable(caller, &survivor)?;
    require_writable(caller, &source)?;

    let moved = merges::move_member_owned(&mut m.session, m.tenant, source.id, survivor.id).await?;
    let mut kept = BTreeMap::new();
    for table in MEMBER_OWNED {
        let left = merges::count_rows(&mut m.session, m.tenant, table, source.id).await?;
        if left > 0 {
            kept.insert(table.table.to_owned(), left);
        }
    }

    let before = survivor.clone();
    let filled = fill_from_source(&mut survivor, &source);
    survivor.updated_at = m.now;
    members::update_member(&mut m.session, m.tenant, &survivor).await?;
    if filled.contains(&"name") {
        reindex_name(m, vault, &survivor).await?;
    }
    source.status = MemberStatus::Merged.as_str().to_owned();
    source.merged_into = Some(survivor.id);
    source.updated_at = m.now;
    members::update_member(&mut m.session, m.tenant, &source).await?;
    // An alias is not a person to find by name; its tokens come back when the merge is undone.
    members::replace_search_tokens(&mut m.session, m.tenant, source.id, &[]).await?;

    // Taken while both members are locked, so id order is the order merges take effect.
    let merge_id = Uuid::now_v7();
    let log = StoredMerge {
        id: merge_id,
        survivor_id: survivor.id,
        source_id: source.id,
        moved,
        survivor_before: before,
        created_at: m.now,
        undone_at: None,
    };
    merges::insert_merge(&mut m.session, m.tenant, &log).await?;
    crate::app::ledger::merge::merge_points(m, merge_id, source.id, survivor.id).await?;
    crate::app::tiers::on_merge(m, survivor.id, source.id).await?;
    let moved: BTreeMap<String, usize> = log
        .moved
        .iter()
        .map(|(table, ids)| (table.clone(), ids.len()))
        .collect();
    for (role, target) in [("survivor", survivor.id), ("source", source.id)] {
        let summary = json!({
            "merge_id": merge_id, "role": role, "survivor_member_id": survivor.id,
            "source_member_id": source.id, "moved": moved, "kept": kept, "filled_fields": filled,
        });
        m.audit("member.merged", "member", target, summary).await?;
    }
    Ok(Merged {
        merge_id,
        survivor_id: survivor.id,
        source_id: source.id,
        moved,
        kept,
        filled,
    })
}

/// Undoes a merge into `survivor` (found by `visible_member` with write access): `merge_id`, or
/// the latest merge in effect. Only the latest merge in effect can be undone, and only while its
/// source is still its alias.
pub async fn unmerge(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    survivor: Found,
    merge_id: Option<Uuid>,
) -> ApiResult<Unmerged> {
    let (survivor, alias) = survivor;
    if let Some(alias) = alias {
        return Err(state_conflict(
            "id",
            "member_merged",
            format!(
                "member {alias} has been merged into {}; undo that merge first",
                survivor.id
            ),
        ));
    }
    // Found before locking only to learn whom to lock; checked again once locked.
    let found = find_merge(m, survivor.id, merge_id).await?;
    merges::lock_members(&mut m.session, m.tenant, &[survivor.id, found.source_id]).await?;
    let merge = find_merge(m, survivor.id, Some(found.id)).await?;
    if let Some(undone_at) = merge.undone_at {
        let at = undone_at.format(&Rfc3339).unwrap_or_default();
        return Err(state_conflict(
            "merge_id",
            "already_undone",
            format!("merge {} was undone at {at}", merge.id),
        ));
    }
    if let Some(latest) = merges::latest_open_merge(&mut m.session, m.tenant, survivor.id).await?
        && latest.id != merge.id
    {
        return Err(state_conflict(
            "merge_id",
            "later_merge",
            format!("merge {} came later; undo it first", latest.id),
        ));
    }
    let (mut survivor, mut source) = (
        reread(m, survivor.id).await?,
        reread(m, merge.source_id).await?,
    );
    require_active("id", &survivor)?;
    if source.status != MemberStatus::Merged.as_str() || source.merged_into != Some(survivor.id) {
        return Err(state_conflict(
            "merge_id",
            "source_changed",
            format!(
                "member {} is no longer merged into {}; this merge cannot be undone",
                source.id, survivor.id
            ),
        ));
    }
    require_writable(caller, &survivor)?;
    require_writable(caller, &source)?;

    let moved_back = merges::move_member_owned_back(
        &mut m.session,
        m.tenant,
        &merge.moved,
        survivor.id,
        source.id,
    )
    .await?;
    crate::app::ledger::merge::unmerge_points(m, merge.id, source.id, survivor.id).await?;
    let restored = restore_filled(&mut survivor, &merge.survivor_before, &source);
    survivor.updated_at = m.now;
    members::update_member(&mut m.session, m.tenant, &survivor).await?;
    if restored.contains(&"name") {
        reindex_name(m, vault, &survivor).await?;
    }
    source.status = MemberStatus::Active.as_str().to_owned();
    source.merged_into = None;
    source.updated_at = m.now;
    members::update_member(&mut m.session, m.tenant, &source).await?;
    reindex_name(m, vault, &source).await?;
    if !merges::mark_undone(&mut m.session, m.tenant, survivor.id, merge.id, m.now).await? {
        return Err(state_conflict(
            "merge_id",
            "already_undone",
            format!("merge {} was undone meanwhile", merge.id),
        ));
    }
    for (role, target) in [("survivor", survivor.id), ("source", source.id)] {
        let summary = json!({
            "merge_id": merge.id, "role": role, "survivor_member_id": survivor.id,
            "source_member_id": source.id, "moved_back": moved_back, "restored_fields": restored,
        });
        m.audit("member.unmerged", "member", target, summary)
            .await?;
    }
    Ok(Unmerged {
        merge_id: merge.id,
        survivor_id: survivor.id,
        source_id: source.id,
        moved_back,
        restored,
    })
}

/// The merge `id` into `survivor`, or the latest one in effect; a 404 when there is none.
async fn find_merge(
    m: &mut Mutation,
    survivor: MemberId,
    id: Option<Uuid>,
) -> ApiResult<StoredMerge> {
    let found = match id {
        Some(id) => merges::get_merge(&mut m.session, m.tenant, survivor, id).await?,
        None => merges::latest_open_merge(&mut m.session, m.tenant, survivor).await?,
    };
    found.ok_or_else(|| match id {
        Some(_) => ApiError::not_found("merge"),
        None => ApiError::with_detail(ErrorCode::NotFound, "no merge into this member to undo"),
    })
}

/// The `merges` profile section: the merges into this member in effect — how many, the latest
/// sources (newest first) and when the last one happened. Absent for a member never merged into.
pub fn merges_section(s: &mut Session, tenant: TenantId, member: MemberId) -> SectionFuture<'_> {
    Box::pin(async move {
        let (count, latest) = merges::merges_in_effect(s, tenant, member, SUMMARY_SOURCES).await?;
        let Some(last) = latest.first() else {
            return Ok(None);
        };
        let merged_from: Vec<MemberId> = latest.iter().map(|merge| merge.source_id).collect();
        Ok(Some(json!({
            "count": count,
            "merged_from": merged_from,
            "last_merge_id": last.id,
            "last_merged_at": last.created_at.format(&Rfc3339).unwrap_or_default(),
        })))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use huiyuan_store::utc_now;
    use time::macros::date;

    fn member(id: u128) -> StoredMember {
        let now = utc_now();
        StoredMember {
            id: MemberId(Uuid::from_u128(id)),
            seq: 1,
            member_no: "000000018".into(),
            status: "active".into(),
            merged_into: None,
            name_enc: None,
            name_index: None,
            gender: None,
            birthday: None,
            province: None,
            city: None,
            district: None,
            address_enc: None,
            address_index: None,
            id_card_enc: None,
            id_card_index: None,
            preferred_store_id: None,
            source_channel_id: None,
            source_format_id: None,
            source_store_id: None,
            guide_id: None,
            referral_code: "ABCDEFGH".into(),
            referred_by: None,
            created_at: now,
            updated_at: now,
            erased_at: None,
        }
    }

    #[test]
    fn best_of_both_fills_only_empty_groups_and_undoes_exactly() {
        let mut survivor = member(1);
        survivor.name_enc = Some("sealed-a".into());
        survivor.name_index = Some("index-a".into());
        survivor.gender = Some("unknown".into());
        survivor.city = Some("上海".into());
        let mut source = member(2);
        source.name_enc = Some("sealed-b".into());
        source.name_index = Some("index-b".into());
        source.gender = Some("female".into());
        source.birthday = Some(date!(1990 - 05 - 01));
        source.province = Some("江苏".into());
        source.city = Some("南京".into());
        source.guide_id = Some(Uuid::from_u128(9));

        let before = survivor.clone();
        let filled = fill_from_source(&mut survivor, &source);
        assert_eq!(filled, ["gender", "birthday", "guide_id"]);
        assert_eq!(
            survivor.name_enc.as_deref(),
            Some("sealed-a"),
            "the survivor's own name stays"
        );
        assert_eq!(
            survivor.province, None,
            "a region is taken whole or not at all"
        );
        assert_eq!(survivor.gender.as_deref(), Some("female"));

        let mut undone = survivor.clone();
        let restored = restore_filled(&mut undone, &before, &source);
        assert_eq!(restored, filled);
        assert_eq!(undone, before);

        // A field changed after the merge is the member's now: undoing keeps it.
        let mut edited = survivor.clone();
        edited.birthday = Some(date!(1991 - 01 - 01));
        let restored = restore_filled(&mut edited, &before, &source);
        assert_eq!(restored, ["gender", "guide_id"]);
        assert_eq!(edited.birthday, Some(date!(1991 - 01 - 01)));
    }
}
