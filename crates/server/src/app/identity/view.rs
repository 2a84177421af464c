//! What `GET /members/{id}` answers: profile, identifiers, consents, source, guide and the plug-in
//! summaries — with personal information masked unless the caller holds `pii:read`.

use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::sealed::open_profile;
use crate::app::profile::ProfileSection;
use crate::app::vault::Vault;
use huiyuan_domain::auth::Placement;
use huiyuan_domain::identity::identifier::{mask_email, mask_middle};
use huiyuan_domain::identity::member::{mask_id_card, mask_name};
use huiyuan_domain::identity::phone::mask_phone;
use huiyuan_domain::identity::{Gender, IdentifierKind, Profile};
use huiyuan_domain::ids::{FormatId, MemberId, StaffId, StoreId, TenantId};
use huiyuan_store::Session;
use huiyuan_store::members::{self, StoredConsent, StoredIdentifier, StoredMember};
use serde::Serialize;
use std::collections::BTreeMap;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub name: Option<String>,
    pub gender: Option<Gender>,
    /// `YYYY-MM-DD`.
    pub birthday: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub address: Option<String>,
    pub id_card_no: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentifierView {
    pub id: Uuid,
    pub kind: IdentifierKind,
    /// Masked unless the caller holds `pii:read`.
    pub value: String,
    /// The app id of a WeChat openid, the namespace of an external id.
    pub qualifier: Option<String>,
    /// `false` for shared or blocked identifiers, which never match a member.
    pub matchable: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentView {
    pub granted: bool,
    pub source_channel_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceView {
    pub channel_id: Option<Uuid>,
    pub format_id: Option<Uuid>,
    pub store_id: Option<Uuid>,
}

/// A member as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub id: MemberId,
    pub member_no: String,
    /// `active`, `merged` or `erased`.
    pub status: String,
    /// Set when the id asked for was merged into this member.
    pub resolved_from: Option<MemberId>,
    pub profile: ProfileView,
    pub identifiers: Vec<IdentifierView>,
    /// Current consent per outreach channel (latest decision).
    pub consents: BTreeMap<String, ConsentView>,
    pub source: SourceView,
    pub guide_id: Option<Uuid>,
    pub preferred_store_id: Option<Uuid>,
    pub referral_code: String,
    pub referred_by: Option<MemberId>,
    /// Whether personal fields are masked in this answer.
    pub pii_masked: bool,
    /// Summaries other capabilities add (points, tier, coupons …).
    #[schema(value_type = Object)]
    pub summaries: BTreeMap<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Where a member sits for data-scope decisions.
pub fn placement(row: &StoredMember) -> Placement {
    Placement {
        format_id: row.source_format_id.map(FormatId),
        store_id: row.source_store_id.map(StoreId),
        guide_id: row.guide_id.map(StaffId),
    }
}

/// An identifier as the caller may see it: opened, split into qualifier and value, masked
/// unless `reveal`.
pub fn identifier_view(
    vault: &Vault,
    identifier: &StoredIdentifier,
    reveal: bool,
) -> ApiResult<IdentifierView> {
    let kind = IdentifierKind::parse("kind", &identifier.kind)
        .map_err(|_| ApiError::internal("stored identifier kind"))?;
    let key = vault
        .open(&identifier.value_enc)
        .map_err(ApiError::internal)?;
    let (qualifier, value) = match kind {
        IdentifierKind::WechatOpenid | IdentifierKind::External => match key.split_once(':') {
            Some((qualifier, value)) => (Some(qualifier.to_owned()), value.to_owned()),
            None => (None, key),
        },
        _ => (None, key),
    };
    let value = match (reveal, kind) {
        (true, _) => value,
        (false, IdentifierKind::Phone) => mask_phone(&value),
        (false, IdentifierKind::Email) => mask_email(&value),
        (false, _) => mask_middle(&value),
    };
    Ok(IdentifierView {
        id: identifier.id,
        kind,
        value,
        qualifier,
        matchable: identifier.matchable,
        created_at: identifier.created_at,
    })
}

fn profile_view(profile: Profile, reveal: bool) -> ProfileView {
    let mask = |value: Option<String>, f: fn(&str) -> String| {
        if reveal { value } else { value.map(|v| f(&v)) }
    };
    ProfileView {
        name: mask(profile.name, mask_name),
        gender: profile.gender,
        birthday: profile.birthday.map(|date| date.to_string()),
        province: profile.province,
        city: profile.city,
        district: profile.district,
        address: mask(profile.address, |_| "***".to_owned()),
        id_card_no: mask(profile.id_card_no, mask_id_card),
    }
}

/// Latest decision per channel from an oldest-first history.
pub fn current_consents(history: Vec<StoredConsent>) -> BTreeMap<String, ConsentView> {
    history
        .into_iter()
        .map(|c| {
            (
                c.channel,
                ConsentView {
                    granted: c.granted,
                    source_channel_id: c.source_channel_id,
                    recorded_at: c.recorded_at,
                },
            )
        })
        .collect()
}

/// Builds the full view of `row` (already resolved past any merge alias).
pub async fn member_view(
    session: &mut Session,
    vault: &Vault,
    sections: &[ProfileSection],
    tenant: TenantId,
    row: StoredMember,
    reveal: bool,
    resolved_from: Option<MemberId>,
) -> ApiResult<MemberView> {
    let profile = open_profile(vault, &row).map_err(ApiError::internal)?;
    let identifiers = members::list_identifiers(session, tenant, row.id).await?;
    let identifiers = identifiers
        .iter()
        .map(|identifier| identifier_view(vault, identifier, reveal))
        .collect::<ApiResult<Vec<_>>>()?;
    let consents = current_consents(members::list_consents(session, tenant, row.id).await?);
    let mut summaries = BTreeMap::new();
    for section in sections {
        if let Some(summary) = (section.load)(session, tenant, row.id).await? {
            summaries.insert(section.name.to_owned(), summary);
        }
    }
    Ok(MemberView {
        id: row.id,
        member_no: row.member_no,
        status: row.status,
        resolved_from,
        profile: profile_view(profile, reveal),
        identifiers,
        consents,
        source: SourceView {
            channel_id: row.source_channel_id,
            format_id: row.source_format_id,
            store_id: row.source_store_id,
        },
        guide_id: row.guide_id,
        preferred_store_id: row.preferred_store_id,
        referral_code: row.referral_code,
        referred_by: row.referred_by,
        pii_masked: !reveal,
        summaries,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Follows merge aliases to the surviving member (a chain is short: each merge adds one hop).
pub async fn resolve(
    session: &mut Session,
    tenant: TenantId,
    id: MemberId,
) -> ApiResult<Option<(StoredMember, Option<MemberId>)>> {
    let mut current = id;
    for _ in 0..16 {
        let Some(row) = members::get_member(session, tenant, current).await? else {
            return Ok(None);
        };
        match row.merged_into {
            Some(next) if row.status == "merged" => current = next,
            _ => return Ok(Some((row, (current != id).then_some(id)))),
        }
    }
    Err(ApiError::internal("merge alias chain too long"))
}
