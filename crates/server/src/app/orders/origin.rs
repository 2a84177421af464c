//! Where an order came from (channel, store, format) and whose it is (the member it names).

use super::input::OrderInput;
use crate::app::error::{ApiError, ApiResult};
use crate::app::identity::view::resolve;
use crate::app::state::AppState;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Access, Actor, Placement, Principal, RecordClass};
use huiyuan_domain::identity::{Identifier, IdentifierInput, IdentifierKind, MemberNo};
use huiyuan_domain::ids::{ChannelId, FormatId, StoreId};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::{Session, auth, members};
use time::OffsetDateTime;

/// The order's channel, store and format, checked against the organisation and the caller.
pub(super) struct Origin {
    pub(super) channel_id: ChannelId,
    pub(super) store_id: Option<StoreId>,
    pub(super) format_id: FormatId,
}

/// The channel, store and format come from the configuration cache (they change rarely, and a
/// change on this node applies at once); a guide is looked up on the read pool.
pub(super) async fn origin(
    app: &AppState,
    caller: &Principal,
    input: &OrderInput,
) -> ApiResult<Origin> {
    let tenant = caller.tenant_id;
    let channel_id = match (&caller.actor, input.channel_id) {
        (Actor::ApiKey { channel_id, .. }, given) => {
            if given.is_some_and(|given| given != *channel_id) {
                return Err(FieldError::new(
                    "channel_id",
                    "mismatch",
                    "an API key posts orders for its own channel only",
                )
                .into());
            }
            *channel_id
        }
        (_, Some(given)) => given,
        (_, None) => {
            return Err(FieldError::new(
                "channel_id",
                "required",
                "staff name the channel the order came through",
            )
            .into());
        }
    };
    let channel = app
        .config
        .channel(&app.store, tenant, channel_id)
        .await?
        .ok_or_else(|| {
            ApiError::from(FieldError::new(
                "channel_id",
                "not_found",
                "no such channel",
            ))
        })?;
    let store = match input.store_id {
        Some(id) => Some(
            app.config
                .store(&app.store, tenant, id)
                .await?
                .ok_or_else(|| {
                    ApiError::from(FieldError::new("store_id", "not_found", "no such store"))
                })?,
        ),
        None => None,
    };
    let format_id = match (&store, input.format_id, channel.format_id) {
        (Some(store), Some(given), _) if given != store.format_id => {
            return Err(FieldError::new(
                "format_id",
                "mismatch",
                "the store belongs to another format",
            )
            .into());
        }
        (Some(store), _, _) => store.format_id,
        (None, Some(given), _) => given,
        (None, None, Some(of_channel)) => of_channel,
        (None, None, None) => {
            return Err(FieldError::new(
                "format_id",
                "required",
                "name the store or the format the order was placed in",
            )
            .into());
        }
    };
    if store.is_none()
        && app
            .config
            .format(&app.store, tenant, format_id)
            .await?
            .is_none()
    {
        return Err(FieldError::new("format_id", "not_found", "no such format").into());
    }
    if let Some(guide) = input.guide_id
        && auth::get_staff(&mut app.store.read().await?, tenant, guide)
            .await?
            .is_none()
    {
        return Err(FieldError::new("guide_id", "not_found", "no such staff account").into());
    }
    let placement = Placement {
        format_id: Some(format_id),
        store_id: store.as_ref().map(|s| s.id),
        guide_id: None,
    };
    crate::app::access::writable(caller, RecordClass::Org, &placement)?;
    Ok(Origin {
        channel_id,
        store_id: store.map(|s| s.id),
        format_id,
    })
}

/// The member the order names, past merges; `None` for an anonymous order. A member named but
/// not found (or not active) is a 422 on the field that named it.
pub async fn order_member(
    session: &mut Session,
    vault: &Vault,
    caller: &Principal,
    input: &OrderInput,
    now: OffsetDateTime,
) -> ApiResult<Option<members::StoredMember>> {
    let tenant = caller.tenant_id;
    let (field, found) = if let Some(id) = input.member_id {
        ("member_id", Some(id))
    } else if let Some(phone) = &input.phone {
        let identifier_input = IdentifierInput {
            kind: IdentifierKind::Phone,
            value: phone.clone(),
            app_id: None,
            namespace: None,
        };
        let identifier = Identifier::parse("phone", &identifier_input)?;
        let index = vault.blind_index(IdentifierKind::Phone.as_str(), &identifier.key);
        (
            "phone",
            members::find_member_by_identifier(
                session,
                tenant,
                IdentifierKind::Phone.as_str(),
                &index,
            )
            .await?,
        )
    } else if let Some(member_no) = &input.member_no {
        let member_no = MemberNo::parse("member_no", member_no)?;
        (
            "member_no",
            members::get_member_by_no(session, tenant, member_no.as_str())
                .await?
                .map(|row| row.id),
        )
    } else if let Some(code) = &input.member_code {
        match vault.verify_member_code(tenant, code, now.unix_timestamp()) {
            Ok(id) => ("member_code", Some(id)),
            Err(crate::app::vault::VaultError::Expired) => {
                return Err(FieldError::new(
                    "member_code",
                    "expired",
                    "the member code has expired; refresh it",
                )
                .into());
            }
            Err(_) => {
                return Err(
                    FieldError::new("member_code", "invalid", "not a valid member code").into(),
                );
            }
        }
    } else {
        return Ok(None);
    };
    let not_found = || ApiError::from(FieldError::new(field, "not_found", "no such member"));
    let id = found.ok_or_else(not_found)?;
    let (row, _) = resolve(session, tenant, id).await?.ok_or_else(not_found)?;
    if !caller.permits(
        Access::Read,
        RecordClass::MemberData,
        &crate::app::identity::view::placement(&row),
    ) {
        return Err(not_found());
    }
    if row.status != "active" {
        return Err(FieldError::new(field, "not_active", "only active members earn points").into());
    }
    Ok(Some(row))
}
