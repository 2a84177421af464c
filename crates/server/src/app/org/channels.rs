//! Channels, the doors members and orders come through (POS, mini-program, app …): group-wide
//! ones (tenant-wide administrators only) and a format's own. Archiving a channel disables its
//! API keys.

use crate::app::access::{visible, writable};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Access, Placement, Principal, RecordClass};
use huiyuan_domain::ids::{ChannelId, FormatId};
use huiyuan_domain::org::{Channel, ChannelKind, Code, Name, parse_app_id};
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{Session, org};
use serde_json::json;

/// Where a channel sits for data scopes: in its format, or group-wide.
fn placement_in(format_id: Option<FormatId>) -> Placement {
    Placement {
        format_id,
        ..Placement::default()
    }
}

fn placement(channel: &Channel) -> Placement {
    placement_in(channel.format_id)
}

/// Validated input for a new channel.
pub struct NewChannel {
    pub code: Code,
    pub name: Name,
    pub kind: ChannelKind,
    pub format_id: Option<FormatId>,
    pub app_id: Option<String>,
}

/// A new channel's fields as they arrive.
pub struct NewChannelFields<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub kind: ChannelKind,
    /// `None` for a group-wide channel.
    pub format_id: Option<FormatId>,
    pub app_id: Option<&'a str>,
}

/// Validates a new channel, reporting every invalid field. A caller who may not change where the
/// channel would sit (its format, or the whole group) is refused (403) before the input is looked
/// at.
pub fn parse_new(caller: &Principal, fields: NewChannelFields<'_>) -> ApiResult<NewChannel> {
    writable(caller, RecordClass::Org, &placement_in(fields.format_id))?;
    let mut errors = FieldErrors::new();
    let code = errors.take(Code::parse("code", fields.code));
    let name = errors.take(Name::parse("name", fields.name));
    let app_id = fields
        .app_id
        .and_then(|app_id| errors.take(parse_app_id("app_id", app_id)));
    errors.finish()?;
    let (Some(code), Some(name)) = (code, name) else {
        return Err(FieldErrors::new().into());
    };
    Ok(NewChannel {
        code,
        name,
        kind: fields.kind,
        format_id: fields.format_id,
        app_id,
    })
}

/// What a change of a channel sets; `None` leaves a field as it is.
#[derive(Default)]
pub struct ChannelChange {
    pub name: Option<Name>,
    pub app_id: Option<String>,
    pub archived: Option<bool>,
}

/// Validates a change of a channel, reporting every invalid field.
pub fn parse_change(
    name: Option<&str>,
    app_id: Option<&str>,
    archived: Option<bool>,
) -> Result<ChannelChange, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = name.and_then(|name| errors.take(Name::parse("name", name)));
    let app_id = app_id.and_then(|app_id| errors.take(parse_app_id("app_id", app_id)));
    errors.finish()?;
    Ok(ChannelChange {
        name,
        app_id,
        archived,
    })
}

/// The change that archives a channel; its API keys stop working.
pub fn archiving() -> ChannelChange {
    ChannelChange {
        archived: Some(true),
        ..ChannelChange::default()
    }
}

/// The channels the caller may see, by id (group-wide channels are visible to all).
pub async fn list(
    session: &mut Session,
    caller: &Principal,
    page: PageRequest,
) -> ApiResult<Page<Channel>> {
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    Ok(org::list_channels(session, caller.tenant_id, &predicate, page).await?)
}

/// The channel `id`, when the caller may see it.
pub async fn get(session: &mut Session, caller: &Principal, id: ChannelId) -> ApiResult<Channel> {
    let channel = org::get_channel(session, caller.tenant_id, id).await?;
    visible(caller, channel, RecordClass::Org, placement, "channel")
}

/// Creates a channel, audited as `channel.created`; its format must exist and its code is
/// unique in the tenant (409).
pub async fn create(m: &mut Mutation, input: NewChannel) -> ApiResult<Channel> {
    if let Some(format_id) = input.format_id
        && org::get_format(&mut m.session, m.tenant, format_id)
            .await?
            .is_none()
    {
        return Err(FieldError::new("format_id", "not_found", "no such format").into());
    }
    let channel = Channel {
        id: ChannelId::new(),
        code: input.code,
        name: input.name,
        kind: input.kind,
        format_id: input.format_id,
        app_id: input.app_id,
        archived: false,
        created_at: m.now,
        updated_at: m.now,
    };
    org::insert_channel(&mut m.session, m.tenant, &channel)
        .await
        .map_err(|error| {
            if org::is_channel_code_conflict(&error) {
                ApiError::conflict("code", "a channel with this code already exists")
            } else {
                error.into()
            }
        })?;
    m.audit("channel.created", "channel", channel.id, json!(channel))
        .await?;
    Ok(channel)
}

/// Changes the channel `id` within `caller`'s scope, audited as `channel.updated` with the record
/// before and after.
pub async fn change(
    m: &mut Mutation,
    caller: &Principal,
    id: ChannelId,
    change: ChannelChange,
) -> ApiResult<Channel> {
    let before = org::get_channel(&mut m.session, m.tenant, id).await?;
    let before = visible(caller, before, RecordClass::Org, placement, "channel")?;
    writable(caller, RecordClass::Org, &placement(&before))?;
    let mut after = before.clone();
    if let Some(name) = change.name {
        after.name = name;
    }
    if let Some(app_id) = change.app_id {
        after.app_id = Some(app_id);
    }
    if let Some(archived) = change.archived {
        after.archived = archived;
    }
    after.updated_at = m.now;
    m.config_changed();
    org::update_channel(&mut m.session, m.tenant, &after).await?;
    m.audit(
        "channel.updated",
        "channel",
        id,
        json!({ "before": before, "after": after }),
    )
    .await?;
    Ok(after)
}
