//! Stores and mall merchants (商户), each in one format: creating them in a format the caller
//! administers, renaming, re-addressing, archiving, reading and listing within the caller's scope.

use crate::app::access::{visible, writable};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Access, Placement, Principal, RecordClass};
use huiyuan_domain::ids::{FormatId, StoreId};
use huiyuan_domain::org::{Code, Name, Store, StoreKind, parse_address};
use huiyuan_domain::paging::{Page, PageRequest};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::{Session, org};
use serde_json::json;

/// Where a store sits for data scopes.
fn placement(store: &Store) -> Placement {
    Placement::store(store.format_id, store.id)
}

/// Validated input for a new store or merchant.
pub struct NewStore {
    pub format_id: FormatId,
    pub code: Code,
    pub name: Name,
    pub kind: StoreKind,
    pub address: String,
}

/// A new store's fields as they arrive.
pub struct NewStoreFields<'a> {
    pub format_id: FormatId,
    pub code: &'a str,
    pub name: &'a str,
    /// `None` makes a store, not a merchant.
    pub kind: Option<StoreKind>,
    pub address: Option<&'a str>,
}

/// Validates a new store, reporting every invalid field. A caller who may not change the format
/// is refused (403) before the input is looked at.
pub fn parse_new(caller: &Principal, fields: NewStoreFields<'_>) -> ApiResult<NewStore> {
    writable(
        caller,
        RecordClass::Org,
        &Placement::format(fields.format_id),
    )?;
    let mut errors = FieldErrors::new();
    let code = errors.take(Code::parse("code", fields.code));
    let name = errors.take(Name::parse("name", fields.name));
    let address = errors.take(parse_address("address", fields.address.unwrap_or("")));
    errors.finish()?;
    let (Some(code), Some(name), Some(address)) = (code, name, address) else {
        return Err(FieldErrors::new().into());
    };
    Ok(NewStore {
        format_id: fields.format_id,
        code,
        name,
        kind: fields.kind.unwrap_or(StoreKind::Store),
        address,
    })
}

/// What a change of a store sets; `None` leaves a field as it is.
#[derive(Default)]
pub struct StoreChange {
    pub name: Option<Name>,
    pub address: Option<String>,
    pub archived: Option<bool>,
}

/// Validates a change of a store, reporting every invalid field.
pub fn parse_change(
    name: Option<&str>,
    address: Option<&str>,
    archived: Option<bool>,
) -> Result<StoreChange, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = name.and_then(|name| errors.take(Name::parse("name", name)));
    let address = address.and_then(|address| errors.take(parse_address("address", address)));
    errors.finish()?;
    Ok(StoreChange {
        name,
        address,
        archived,
    })
}

/// The change that archives a store: it keeps its history but takes no new business.
pub fn archiving() -> StoreChange {
    StoreChange {
        archived: Some(true),
        ..StoreChange::default()
    }
}

/// The stores the caller may see, by id; only those of `format_id` when given.
pub async fn list(
    session: &mut Session,
    caller: &Principal,
    format_id: Option<FormatId>,
    page: PageRequest,
) -> ApiResult<Page<Store>> {
    let predicate = caller.predicate(Access::Read, RecordClass::Org);
    Ok(org::list_stores(session, caller.tenant_id, &predicate, format_id, page).await?)
}

/// The store `id`, when the caller may see it.
pub async fn get(session: &mut Session, caller: &Principal, id: StoreId) -> ApiResult<Store> {
    let store = org::get_store(session, caller.tenant_id, id).await?;
    visible(caller, store, RecordClass::Org, placement, "store")
}

/// Creates a store in an active format, audited as `store.created`; its code is unique in the
/// tenant (409).
pub async fn create(m: &mut Mutation, input: NewStore) -> ApiResult<Store> {
    let format = org::get_format(&mut m.session, m.tenant, input.format_id).await?;
    match format {
        Some(format) if !format.archived => {}
        Some(_) => {
            return Err(FieldError::new("format_id", "archived", "the format is archived").into());
        }
        None => {
            return Err(FieldError::new("format_id", "not_found", "no such format").into());
        }
    }
    let store = Store {
        id: StoreId::new(),
        format_id: input.format_id,
        code: input.code,
        name: input.name,
        kind: input.kind,
        address: input.address,
        archived: false,
        created_at: m.now,
        updated_at: m.now,
    };
    org::insert_store(&mut m.session, m.tenant, &store)
        .await
        .map_err(|error| {
            if org::is_store_code_conflict(&error) {
                ApiError::conflict("code", "a store with this code already exists")
            } else {
                error.into()
            }
        })?;
    m.audit("store.created", "store", store.id, json!(store))
        .await?;
    Ok(store)
}

/// Changes the store `id` within `caller`'s scope, audited as `store.updated` with the record
/// before and after.
pub async fn change(
    m: &mut Mutation,
    caller: &Principal,
    id: StoreId,
    change: StoreChange,
) -> ApiResult<Store> {
    let before = org::get_store(&mut m.session, m.tenant, id).await?;
    let before = visible(caller, before, RecordClass::Org, placement, "store")?;
    writable(caller, RecordClass::Org, &placement(&before))?;
    let mut after = before.clone();
    if let Some(name) = change.name {
        after.name = name;
    }
    if let Some(address) = change.address {
        after.address = address;
    }
    if let Some(archived) = change.archived {
        after.archived = archived;
    }
    after.updated_at = m.now;
    m.config_changed();
    org::update_store(&mut m.session, m.tenant, &after).await?;
    m.audit(
        "store.updated",
        "store",
        id,
        json!({ "before": before, "after": after }),
    )
    .await?;
    Ok(after)
}
