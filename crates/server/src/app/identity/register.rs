//! Registration from any channel, idempotent on every identifier it carries: an identifier that
//! already belongs to a member returns that member (and binds the request's new identifiers to
//! them); two channels registering the same phone at the same instant get one member.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::identity::policy::IdentityPolicy;
use crate::app::identity::sealed::{fold, seal_profile};
use crate::app::mutation::Mutation;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Access, Principal, RecordClass};
use huiyuan_domain::identity::{
    ConsentChannel, Identifier, IdentifierInput, MemberNo, MemberStatus, Profile, ProfileInput,
};
use huiyuan_domain::ids::{ChannelId, MemberId, StaffId, StoreId};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::members::{self, StoredConsent, StoredIdentifier, StoredMember};
use huiyuan_store::{auth, org};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeSet;
use utoipa::ToSchema;
use uuid::Uuid;

/// Most identifiers one registration may carry.
const MAX_IDENTIFIERS: usize = 20;

#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub channel: ConsentChannel,
    pub granted: bool,
}

/// `POST /api/v1/members`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterMember {
    /// At least one: phone, email, WeChat unionid/openid, device id, card number, legacy id …
    pub identifiers: Vec<IdentifierInput>,
    #[serde(default)]
    pub profile: ProfileInput,
    /// The channel registering (taken from the API key when a channel calls).
    pub source_channel_id: Option<ChannelId>,
    /// The store registering (a store-bound key's store by default).
    pub store_id: Option<StoreId>,
    /// The shopping guide (导购) the member is attributed to.
    pub guide_id: Option<StaffId>,
    pub preferred_store_id: Option<StoreId>,
    /// The referrer's referral code (老带新).
    pub referral_code: Option<String>,
    #[serde(default)]
    pub consents: Vec<ConsentInput>,
}

/// A validated registration.
pub struct Registration {
    pub identifiers: Vec<Identifier>,
    pub profile: Profile,
    pub source_channel_id: Option<ChannelId>,
    pub store_id: Option<StoreId>,
    pub guide_id: Option<StaffId>,
    pub preferred_store_id: Option<StoreId>,
    pub referral_code: Option<String>,
    pub consents: Vec<ConsentInput>,
}

impl Registration {
    pub fn parse(input: RegisterMember, today: time::Date) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        if input.identifiers.is_empty() {
            errors.push(FieldError::new(
                "identifiers",
                "required",
                "at least one identifier is needed",
            ));
        }
        if input.identifiers.len() > MAX_IDENTIFIERS {
            errors.push(FieldError::new(
                "identifiers",
                "too_many",
                format!("at most {MAX_IDENTIFIERS} identifiers"),
            ));
        }
        let mut identifiers: Vec<Identifier> = Vec::new();
        for (index, raw) in input.identifiers.iter().enumerate() {
            if let Some(identifier) =
                errors.take(Identifier::parse(&format!("identifiers[{index}]"), raw))
                && !identifiers.contains(&identifier)
            {
                identifiers.push(identifier);
            }
        }
        let profile = match Profile::parse("profile", &input.profile, today) {
            Ok(profile) => profile,
            Err(more) => {
                more.0.into_iter().for_each(|e| errors.push(e));
                Profile::default()
            }
        };
        errors.finish()?;
        Ok(Self {
            identifiers,
            profile,
            source_channel_id: input.source_channel_id,
            store_id: input.store_id,
            guide_id: input.guide_id,
            preferred_store_id: input.preferred_store_id,
            referral_code: input
                .referral_code
                .map(|code| code.trim().to_owned())
                .filter(|code| !code.is_empty()),
            consents: input.consents,
        })
    }
}

/// The outcome: a new member, or the one an identifier already named.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registered {
    Created(MemberId),
    Existing(MemberId),
}

/// Identifiers in stored form.
fn stored_identifiers(
    vault: &Vault,
    policy: &IdentityPolicy,
    member: MemberId,
    identifiers: &[Identifier],
    now: time::OffsetDateTime,
) -> Vec<StoredIdentifier> {
    identifiers
        .iter()
        .map(|identifier| StoredIdentifier {
            id: Uuid::now_v7(),
            member_id: member,
            kind: identifier.kind.as_str().to_owned(),
            value_index: vault.blind_index(identifier.kind.as_str(), &identifier.key),
            value_enc: vault.seal(&identifier.key),
            matchable: policy.matches_people(identifier),
            created_at: now,
        })
        .collect()
}

/// The members already holding any of these identifiers.
async fn owners(
    m: &mut Mutation,
    vault: &Vault,
    policy: &IdentityPolicy,
    identifiers: &[Identifier],
) -> ApiResult<BTreeSet<MemberId>> {
    let mut found = BTreeSet::new();
    for identifier in identifiers.iter().filter(|i| policy.matches_people(i)) {
        let index = vault.blind_index(identifier.kind.as_str(), &identifier.key);
        if let Some(owner) = members::find_member_by_identifier(
            &mut m.session,
            m.tenant,
            identifier.kind.as_str(),
            &index,
        )
        .await?
        {
            found.insert(owner);
        }
    }
    Ok(found)
}

/// Binds identifiers to an existing member, each within its kind's limit; returns how many were
/// bound. Identifiers that another member holds are skipped (that is a merge decision).
pub async fn bind_identifiers(
    m: &mut Mutation,
    vault: &Vault,
    policy: &IdentityPolicy,
    member: MemberId,
    identifiers: &[Identifier],
) -> ApiResult<usize> {
    let existing = members::list_identifiers(&mut m.session, m.tenant, member).await?;
    let mut bound = 0;
    for stored in stored_identifiers(vault, policy, member, identifiers, m.now) {
        let same_kind = existing.iter().filter(|e| e.kind == stored.kind).count();
        let duplicate = existing
            .iter()
            .any(|e| e.kind == stored.kind && e.value_index == stored.value_index);
        let kind = huiyuan_domain::identity::IdentifierKind::parse("kind", &stored.kind)
            .map_err(ApiError::from)?;
        if duplicate || same_kind >= policy.limit(kind) {
            continue;
        }
        if members::try_insert_identifier(&mut m.session, m.tenant, &stored).await? {
            bound += 1;
        }
    }
    Ok(bound)
}

/// A fresh 8-character referral code from an alphabet without look-alikes (about 40 bits).
pub fn new_referral_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..8)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

/// Registers in the open mutation. `caller` decides the defaults (a key's channel and store, a
/// guide's own id) and must be allowed to write members at the resulting placement.
pub async fn register(
    m: &mut Mutation,
    vault: &Vault,
    policy: &IdentityPolicy,
    caller: &Principal,
    reg: Registration,
) -> ApiResult<Registered> {
    for kind in reg
        .identifiers
        .iter()
        .map(|i| i.kind)
        .collect::<BTreeSet<_>>()
    {
        if reg.identifiers.iter().filter(|i| i.kind == kind).count() > policy.limit(kind) {
            return Err(FieldError::new(
                "identifiers",
                "limit_exceeded",
                format!(
                    "at most {} {} identifiers per member",
                    policy.limit(kind),
                    kind.as_str()
                ),
            )
            .into());
        }
    }
    let found = owners(m, vault, policy, &reg.identifiers).await?;
    if found.len() > 1 {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            format!(
                "the identifiers belong to different members ({}); merge them first",
                found
                    .iter()
                    .map(MemberId::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    if let Some(owner) = found.first().copied() {
        return existing(m, vault, policy, owner, &reg.identifiers).await;
    }

    // Where the member joins: the key's channel and store unless the request names them.
    let (key_channel, key_store) = match (&caller.actor, &caller.scope) {
        (
            huiyuan_domain::auth::Actor::ApiKey { channel_id, .. },
            huiyuan_domain::auth::DataScope::Stores { store_ids },
        ) if store_ids.len() == 1 => (Some(*channel_id), store_ids.first().copied()),
        (huiyuan_domain::auth::Actor::ApiKey { channel_id, .. }, _) => (Some(*channel_id), None),
        _ => (None, None),
    };
    let channel_id = key_channel.or(reg.source_channel_id);
    let store_id = reg.store_id.or(key_store);
    let guide_id = reg.guide_id.or(match caller.scope {
        huiyuan_domain::auth::DataScope::OwnMembers { .. } => caller.staff_id(),
        _ => None,
    });
    let mut format_id = None;
    if let Some(store_id) = store_id {
        let store = org::get_store(&mut m.session, m.tenant, store_id)
            .await?
            .filter(|s| !s.archived);
        format_id = Some(
            store
                .ok_or_else(|| FieldError::new("store_id", "not_found", "no such active store"))?
                .format_id,
        );
    }
    if let Some(channel_id) = channel_id {
        let channel = org::get_channel(&mut m.session, m.tenant, channel_id).await?;
        let channel = channel
            .ok_or_else(|| FieldError::new("source_channel_id", "not_found", "no such channel"))?;
        format_id = format_id.or(channel.format_id);
    }
    if let Some(guide_id) = guide_id
        && !auth::get_staff(&mut m.session, m.tenant, guide_id)
            .await?
            .is_some_and(|staff| staff.active)
    {
        return Err(
            FieldError::new("guide_id", "not_found", "no such active staff account").into(),
        );
    }
    if let Some(preferred) = reg.preferred_store_id
        && org::get_store(&mut m.session, m.tenant, preferred)
            .await?
            .is_none()
    {
        return Err(FieldError::new("preferred_store_id", "not_found", "no such store").into());
    }
    let referred_by = match &reg.referral_code {
        Some(code) => Some(
            members::get_member_by_referral_code(&mut m.session, m.tenant, code)
                .await?
                .filter(|referrer| referrer.status == MemberStatus::Active.as_str())
                .ok_or_else(|| {
                    FieldError::new(
                        "referral_code",
                        "not_found",
                        "no member has this referral code",
                    )
                })?
                .id,
        ),
        None => None,
    };
    let placement = huiyuan_domain::auth::Placement {
        format_id,
        store_id,
        guide_id,
    };
    if !caller.permits(Access::Write, RecordClass::MemberData, &placement) {
        return Err(huiyuan_domain::auth::Denied::OutOfScope.into());
    }

    let member_id = MemberId::new();
    // Identifiers first: if another registration just took one, nothing of ours is left behind.
    let stored = stored_identifiers(vault, policy, member_id, &reg.identifiers, m.now);
    let mut inserted = Vec::new();
    for identifier in &stored {
        if members::try_insert_identifier(&mut m.session, m.tenant, identifier).await? {
            inserted.push(identifier.id);
        } else {
            for id in inserted {
                members::delete_identifier(&mut m.session, m.tenant, member_id, id).await?;
            }
            let winner = members::find_member_by_identifier(
                &mut m.session,
                m.tenant,
                &identifier.kind,
                &identifier.value_index,
            )
            .await?
            .ok_or_else(|| ApiError::internal("identifier conflict without an owner"))?;
            return existing(m, vault, policy, winner, &reg.identifiers).await;
        }
    }
    let seq = members::next_member_seq(&mut m.session, m.tenant).await?;
    let mut row = StoredMember {
        id: member_id,
        seq,
        member_no: MemberNo::from_seq(u64::try_from(seq).unwrap_or_default())
            .as_str()
            .to_owned(),
        status: MemberStatus::Active.as_str().to_owned(),
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
        preferred_store_id: reg.preferred_store_id.map(|id| id.0),
        source_channel_id: channel_id.map(|id| id.0),
        source_format_id: format_id.map(|id| id.0),
        source_store_id: store_id.map(|id| id.0),
        guide_id: guide_id.map(|id| id.0),
        referral_code: new_referral_code(),
        referred_by,
        created_at: m.now,
        updated_at: m.now,
        erased_at: None,
    };
    seal_profile(vault, &reg.profile, &mut row);
    members::insert_member(&mut m.session, m.tenant, &row).await?;
    if let Some(name) = &reg.profile.name {
        members::replace_search_tokens(
            &mut m.session,
            m.tenant,
            member_id,
            &vault.name_tokens(name),
        )
        .await?;
    }
    for consent in &reg.consents {
        let stored = StoredConsent {
            id: Uuid::now_v7(),
            member_id,
            channel: consent.channel.as_str().to_owned(),
            granted: consent.granted,
            source_channel_id: channel_id.map(|id| id.0),
            recorded_at: m.now,
        };
        members::insert_consent(&mut m.session, m.tenant, &stored).await?;
    }
    let kinds: Vec<&str> = reg.identifiers.iter().map(|i| i.kind.as_str()).collect();
    let summary = json!({
        "member_no": row.member_no, "identifier_kinds": kinds, "source_channel_id": row.source_channel_id,
        "source_store_id": row.source_store_id, "guide_id": row.guide_id, "referred_by": referred_by,
        "profile_fields": profile_fields(&reg.profile),
    });
    m.audit("member.registered", "member", member_id, summary)
        .await?;
    crate::app::event_rewards::on_registered(m, member_id).await?;
    crate::app::coupons::on_registered(m, member_id).await?;
    Ok(Registered::Created(member_id))
}

async fn existing(
    m: &mut Mutation,
    vault: &Vault,
    policy: &IdentityPolicy,
    owner: MemberId,
    identifiers: &[Identifier],
) -> ApiResult<Registered> {
    let bound = bind_identifiers(m, vault, policy, owner, identifiers).await?;
    if bound > 0 {
        m.audit(
            "member.identifiers_bound",
            "member",
            owner,
            json!({ "count": bound, "via": "registration" }),
        )
        .await?;
    }
    Ok(Registered::Existing(owner))
}

/// Names (not values) of the profile fields set, for audit summaries without personal data.
pub fn profile_fields(profile: &Profile) -> Vec<&'static str> {
    let mut fields = Vec::new();
    let mut add = |set: bool, name| {
        if set {
            fields.push(name)
        }
    };
    add(profile.name.is_some(), "name");
    add(profile.gender.is_some(), "gender");
    add(profile.birthday.is_some(), "birthday");
    add(profile.province.is_some(), "province");
    add(profile.city.is_some(), "city");
    add(profile.district.is_some(), "district");
    add(profile.address.is_some(), "address");
    add(profile.id_card_no.is_some(), "id_card_no");
    fields
}

/// Folded name for equality checks outside the database (duplicate review).
pub fn name_key(name: &str) -> String {
    fold(name)
}
