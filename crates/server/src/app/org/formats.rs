//! Business formats (业态): creating (tenant-wide administrators only), renaming, archiving,
//! reading and listing them within the caller's scope.

use crate::app::access::{visible, writable};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Access, Placement, Principal, RecordClass};
use huiyuan_domain::ids::FormatId;
use huiyuan_domain::org::{Code, Format, Name};
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{Session, org};
use serde_json::json;

/// Validated input for a new format.
pub struct NewFormat {
    pub code: Code,
    pub name: Name,
}

/// Validates a new format's code and name, reporting every invalid field. Formats are the
/// group's to create: a caller without the tenant-wide scope is refused (403) before the input
/// is looked at.
pub fn parse_new(caller: &Principal, code: &str, name: &str) -> ApiResult<NewFormat> {
    caller.require_tenant_scope()?;
    let mut errors = FieldErrors::new();
    let code = errors.take(Code::parse("code", code));
    let name = errors.take(Name::parse("name", name));
    errors.finish()?;
    let (Some(code), Some(name)) = (code, name) else {
        return Err(FieldErrors::new().into());
    };
    Ok(NewFormat { code, name })
}

/// What a change of a format sets; `None` leaves a field as it is.
#[derive(Default)]
pub struct FormatChange {
    pub name: Option<Name>,
    pub archived: Option<bool>,
}

/// Validates a change of a format.
pub fn parse_change(
    name: Option<&str>,
    archived: Option<bool>,
) -> Result<FormatChange, FieldError> {
    let name = name.map(|name| Name::parse("name", name)).transpose()?;
    Ok(FormatChange { name, archived })
}

/// The change that archives a format: it keeps its history but takes no new stores.
pub fn archiving() -> FormatChange {
    FormatChange {
        archived: Some(true),
        ..FormatChange::default()
    }
}

fn placement(format: &Format) -> Placement {
    Placement::format(format.id)
}

/// The formats the caller may see, by id.
pub async fn list(
    session: &mut Session,
    caller: &Principal,
    page: PageRequest,
) -> ApiResult<Page<Format>> {
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    Ok(org::list_formats(session, caller.tenant_id, &predicate, page).await?)
}

/// The format `id`, when the caller may see it.
pub async fn get(session: &mut Session, caller: &Principal, id: FormatId) -> ApiResult<Format> {
    let format = org::get_format(session, caller.tenant_id, id).await?;
    visible(caller, format, RecordClass::Org, placement, "format")
}

/// Creates a format, audited as `format.created`; its code is unique in the tenant (409).
pub async fn create(m: &mut Mutation, input: NewFormat) -> ApiResult<Format> {
    let format = Format {
        id: FormatId::new(),
        code: input.code,
        name: input.name,
        archived: false,
        created_at: m.now,
        updated_at: m.now,
    };
    org::insert_format(&mut m.session, m.tenant, &format)
        .await
        .map_err(|error| {
            if org::is_format_code_conflict(&error) {
                ApiError::conflict("code", "a format with this code already exists")
            } else {
                error.into()
            }
        })?;
    m.audit("format.created", "format", format.id, json!(format))
        .await?;
    Ok(format)
}

/// Changes the format `id` within `caller`'s scope, audited as `format.updated` with the record
/// before and after.
pub async fn change(
    m: &mut Mutation,
    caller: &Principal,
    id: FormatId,
    change: FormatChange,
) -> ApiResult<Format> {
    let before = org::get_format(&mut m.session, m.tenant, id).await?;
    let before = visible(caller, before, RecordClass::Org, placement, "format")?;
    writable(caller, RecordClass::Org, &Placement::format(id))?;
    let mut after = before.clone();
    if let Some(name) = change.name {
        after.name = name;
    }
    if let Some(archived) = change.archived {
        after.archived = archived;
    }
    after.updated_at = m.now;
    m.config_changed();
    org::update_format(&mut m.session, m.tenant, &after).await?;
    m.audit(
        "format.updated",
        "format",
        id,
        json!({ "before": before, "after": after }),
    )
    .await?;
    Ok(after)
}
