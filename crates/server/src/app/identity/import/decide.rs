//! Deciding a row: a new member, or a merge of what it brings into the member it names.

use crate::app::identity::import::cleaning::{Clean, Keyed, Refusal};
use crate::app::identity::import::{Field, Importer, SourceRow};
use crate::app::identity::policy::IdentityPolicy;
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Access, Placement, RecordClass};
use huiyuan_domain::identity::{IdentifierKind, MemberStatus, Profile};
use huiyuan_domain::ids::MemberId;
use huiyuan_store::members::{StoredIdentifier, StoredMember};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

/// A member as this batch sees it: stored or about to be.
pub(super) struct Working {
    pub(super) row: StoredMember,
    /// Identifiers held, as (kind, blind index), including those this batch binds.
    pub(super) held: Vec<(String, String)>,
    /// Created by this batch (inserted at the end) rather than loaded.
    pub(super) fresh: bool,
    /// An existing member this batch changed.
    pub(super) changed: bool,
    /// Identifiers to insert, sealed.
    pub(super) pending: Vec<StoredIdentifier>,
    /// Search tokens of a name this batch gave the member, to insert.
    pub(super) tokens: Vec<String>,
    /// The line that created a fresh member, and its name in clear for the duplicate review.
    pub(super) line: u64,
    pub(super) name: Option<String>,
}

impl Working {
    pub(super) fn holds(&self, kind: IdentifierKind, index: &str) -> bool {
        self.held
            .iter()
            .any(|(k, i)| k == kind.as_str() && i == index)
    }

    /// Binds an identifier unless the member holds it or the kind is at its limit; `true` when
    /// bound.
    pub(super) fn bind(
        &mut self,
        policy: &IdentityPolicy,
        keyed: &Keyed,
        now: time::OffsetDateTime,
    ) -> bool {
        let kind = keyed.identifier.kind;
        let of_kind = self.held.iter().filter(|(k, _)| k == kind.as_str()).count();
        if self.holds(kind, &keyed.index) || of_kind >= policy.limit(kind) {
            return false;
        }
        self.held
            .push((kind.as_str().to_owned(), keyed.index.clone()));
        self.pending.push(StoredIdentifier {
            id: Uuid::now_v7(),
            member_id: self.row.id,
            kind: kind.as_str().to_owned(),
            value_index: keyed.index.clone(),
            value_enc: keyed.sealed.clone(),
            matchable: keyed.matchable,
            created_at: now,
        });
        true
    }
}

impl Importer {
    /// A new member for a row no member is known by; `None` sequence number and referral code
    /// until the batch's block is reserved.
    pub(super) fn create(
        &self,
        m: &Mutation,
        row: &SourceRow,
        clean: &Clean,
        working: &mut HashMap<MemberId, Working>,
    ) -> Result<MemberId, Refusal> {
        for kind in clean
            .identifiers
            .iter()
            .map(|k| k.identifier.kind)
            .collect::<BTreeSet<_>>()
        {
            let count = clean
                .identifiers
                .iter()
                .filter(|k| k.identifier.kind == kind)
                .count();
            if count > self.policy.limit(kind) {
                return Err(Refusal::new(
                    "limit_exceeded",
                    format!(
                        "at most {} {} identifiers per member",
                        self.policy.limit(kind),
                        kind.as_str()
                    ),
                ));
            }
        }
        let defaults = self.defaults.unwrap_or_default();
        let store = match &clean.store_code {
            Some(code) => match self.stores.get(code).copied().flatten() {
                Some(store) => Some(store),
                None => {
                    return Err(Refusal::new(
                        "unknown_store",
                        format!("store_code: no active store with code '{code}'"),
                    ));
                }
            },
            None => defaults.store,
        };
        let channel_id = defaults.channel.map(|(id, _)| id);
        let format_id = store
            .map(|(_, format)| format)
            .or(defaults.channel.and_then(|(_, format)| format));
        let placement = Placement {
            format_id,
            store_id: store.map(|(id, _)| id),
            guide_id: defaults.guide,
        };
        if !self
            .caller
            .permits(Access::Write, RecordClass::MemberData, &placement)
        {
            return Err(Refusal::new(
                "out_of_scope",
                "a member placed here lies outside the caller's data scope",
            ));
        }
        let id = MemberId::new();
        let mut member = clean.sealed.clone();
        member.id = id;
        member.source_channel_id = channel_id.map(|id| id.0);
        member.source_format_id = format_id.map(|id| id.0);
        member.source_store_id = placement.store_id.map(|id| id.0);
        member.guide_id = placement.guide_id.map(|id| id.0);
        member.created_at = m.now;
        member.updated_at = m.now;
        let mut w = Working {
            row: member,
            held: Vec::new(),
            fresh: true,
            changed: false,
            pending: Vec::new(),
            tokens: clean.tokens.clone(),
            line: row.line,
            name: clean.profile.name.clone(),
        };
        for keyed in &clean.identifiers {
            w.bind(&self.policy, keyed, m.now);
        }
        working.insert(id, w);
        Ok(id)
    }

    /// Adds what the row knows and the member lacks; `true` when anything was added.
    pub(super) fn merge(
        &self,
        m: &Mutation,
        clean: &Clean,
        working: &mut HashMap<MemberId, Working>,
        id: MemberId,
    ) -> Result<bool, Refusal> {
        let w = working.get_mut(&id).ok_or_else(|| {
            Refusal::new("inactive_member", "the matching member no longer exists")
        })?;
        if w.row.status != MemberStatus::Active.as_str() {
            return Err(Refusal::new(
                "inactive_member",
                format!(
                    "the matching member {} is {}",
                    w.row.member_no, w.row.status
                ),
            ));
        }
        if !w.fresh
            && !self.caller.permits(
                Access::Write,
                RecordClass::MemberData,
                &crate::app::identity::view::placement(&w.row),
            )
        {
            return Err(Refusal::new(
                "out_of_scope",
                format!(
                    "the matching member {} lies outside the caller's data scope",
                    w.row.member_no
                ),
            ));
        }
        let filled = fill_missing(&mut w.row, &clean.profile, &clean.sealed);
        if filled.contains(&Field::Name) {
            w.name = clean.profile.name.clone();
            w.tokens = clean.tokens.clone();
        }
        let mut bound = false;
        for keyed in &clean.identifiers {
            bound |= w.bind(&self.policy, keyed, m.now);
        }
        if filled.is_empty() && !bound {
            return Ok(false);
        }
        if !w.fresh {
            w.row.updated_at = m.now;
            w.changed = true;
        }
        Ok(true)
    }
}

/// Fills the member's absent profile fields from the row's `profile`, taking the stored form
/// from `sealed` (the row's profile as [`seal_profile`] stores it); answers the fields filled.
/// Present values are never overwritten: the legacy system's data is the older.
pub(super) fn fill_missing(
    row: &mut StoredMember,
    profile: &Profile,
    sealed: &StoredMember,
) -> Vec<Field> {
    let mut filled = Vec::new();
    if profile.name.is_some() && row.name_enc.is_none() {
        row.name_enc = sealed.name_enc.clone();
        row.name_index = sealed.name_index.clone();
        filled.push(Field::Name);
    }
    if profile.gender.is_some() && row.gender.is_none() {
        row.gender = sealed.gender.clone();
        filled.push(Field::Gender);
    }
    if profile.birthday.is_some() && row.birthday.is_none() {
        row.birthday = sealed.birthday;
        filled.push(Field::Birthday);
    }
    if profile.province.is_some() && row.province.is_none() {
        row.province = sealed.province.clone();
        filled.push(Field::Province);
    }
    if profile.city.is_some() && row.city.is_none() {
        row.city = sealed.city.clone();
        filled.push(Field::City);
    }
    if profile.district.is_some() && row.district.is_none() {
        row.district = sealed.district.clone();
        filled.push(Field::District);
    }
    if profile.address.is_some() && row.address_enc.is_none() {
        row.address_enc = sealed.address_enc.clone();
        row.address_index = sealed.address_index.clone();
        filled.push(Field::Address);
    }
    if profile.id_card_no.is_some() && row.id_card_enc.is_none() {
        row.id_card_enc = sealed.id_card_enc.clone();
        row.id_card_index = sealed.id_card_index.clone();
        filled.push(Field::IdCardNo);
    }
    filled
}
