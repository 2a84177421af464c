//! Creating, changing and archiving coupon templates. A template sits where its cost bearer is:
//! HQ templates are group-wide (only a tenant-wide account may change them), a format's in that
//! format, a merchant's at the merchant's store — so a merchant's staff and keys manage their own
//! templates and no one else's, with the same data-scope rule as everything else.

use crate::app::access::writable;
use crate::app::coupons::views::TemplateView;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Placement, Principal, RecordClass};
use huiyuan_domain::coupons::{CostBearer, CouponTemplate, TemplateInput, TemplateStatus};
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::org::StoreKind;
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::coupons::{self as store, StoredTemplate};
use huiyuan_store::{Session, org};
use serde_json::json;
use uuid::Uuid;

/// Where the template with this configuration sits, after checking that everything it names
/// exists in the tenant; every missing reference is reported at its field.
pub async fn placement_of(
    session: &mut Session,
    tenant: TenantId,
    spec: &TemplateInput,
) -> ApiResult<Placement> {
    let mut errors = FieldErrors::new();
    let placement = match spec.cost_bearer {
        CostBearer::Hq => Placement::group_wide(),
        CostBearer::Format { format_id } => {
            match org::get_format(session, tenant, format_id).await? {
                Some(format) if !format.archived => Placement::format(format_id),
                _ => {
                    errors.push(FieldError::new(
                        "cost_bearer.format_id",
                        "not_found",
                        "no such active format",
                    ));
                    Placement::group_wide()
                }
            }
        }
        CostBearer::Merchant { store_id } => match org::get_store(session, tenant, store_id).await?
        {
            Some(merchant) if merchant.kind == StoreKind::Merchant && !merchant.archived => {
                Placement::store(merchant.format_id, store_id)
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "cost_bearer.store_id",
                    "not_a_merchant",
                    "the store is not an active merchant",
                ));
                Placement::group_wide()
            }
            None => {
                errors.push(FieldError::new(
                    "cost_bearer.store_id",
                    "not_found",
                    "no such store",
                ));
                Placement::group_wide()
            }
        },
    };
    if let Some(format_id) = spec.issuing_format_id
        && org::get_format(session, tenant, format_id).await?.is_none()
    {
        errors.push(FieldError::new(
            "issuing_format_id",
            "not_found",
            "no such format",
        ));
    }
    let scope = &spec.applicability;
    for (index, id) in scope.format_ids.iter().enumerate() {
        if org::get_format(session, tenant, *id).await?.is_none() {
            errors.push(FieldError::new(
                format!("applicability.format_ids[{index}]"),
                "not_found",
                "no such format",
            ));
        }
    }
    for (index, id) in scope.store_ids.iter().enumerate() {
        if org::get_store(session, tenant, *id).await?.is_none() {
            errors.push(FieldError::new(
                format!("applicability.store_ids[{index}]"),
                "not_found",
                "no such store",
            ));
        }
    }
    for (index, id) in scope.channel_ids.iter().enumerate() {
        if org::get_channel(session, tenant, *id).await?.is_none() {
            errors.push(FieldError::new(
                format!("applicability.channel_ids[{index}]"),
                "not_found",
                "no such channel",
            ));
        }
    }
    errors.finish()?;
    Ok(placement)
}

/// Where a stored template sits.
pub fn stored_placement(stored: &StoredTemplate) -> Placement {
    Placement {
        format_id: stored.format_id.map(Into::into),
        store_id: stored.store_id.map(Into::into),
        guide_id: None,
    }
}

/// Creates a template in the open mutation; the caller must be allowed to change records where
/// its cost bearer sits.
pub async fn create(
    m: &mut Mutation,
    caller: &Principal,
    spec: TemplateInput,
) -> ApiResult<TemplateView> {
    spec.validate(m.now)?;
    let placement = placement_of(&mut m.session, m.tenant, &spec).await?;
    writable(caller, RecordClass::Org, &placement)?;
    let stored = StoredTemplate {
        template: CouponTemplate {
            id: Uuid::now_v7(),
            spec,
            status: TemplateStatus::Active,
        },
        format_id: placement.format_id.map(|id| id.0),
        store_id: placement.store_id.map(|id| id.0),
        issued_count: 0,
        created_at: m.now,
        updated_at: m.now,
    };
    store::insert_template(&mut m.session, m.tenant, &stored).await?;
    m.audit(
        "coupon_template.created",
        "coupon_template",
        stored.template.id,
        json!({ "name": stored.template.spec.name, "kind": stored.template.spec.benefit.kind(),
                "cost_bearer": stored.template.spec.cost_bearer }),
    )
    .await?;
    Ok(stored.into())
}

/// The template when the caller may change it; the same 404 as for a missing one when the caller
/// may not even see it.
pub async fn writable_template(
    m: &mut Mutation,
    caller: &Principal,
    id: Uuid,
) -> ApiResult<StoredTemplate> {
    let stored = crate::app::access::visible(
        caller,
        store::get_template(&mut m.session, m.tenant, id).await?,
        RecordClass::Org,
        stored_placement,
        "coupon template",
    )?;
    writable(caller, RecordClass::Org, &stored_placement(&stored))?;
    Ok(stored)
}

/// Fields that decide what issued coupons are worth and who pays: fixed once a coupon exists.
const LOCKED_ONCE_ISSUED: &[&str] = &[
    "benefit",
    "validity",
    "stacking",
    "cost_bearer",
    "issuing_format_id",
];

/// Applies a JSON merge patch (top-level fields replace the stored ones; `status` archives or
/// reactivates) and saves the template after validating it whole.
pub async fn update(
    m: &mut Mutation,
    caller: &Principal,
    id: Uuid,
    patch: serde_json::Map<String, serde_json::Value>,
) -> ApiResult<TemplateView> {
    let before = writable_template(m, caller, id).await?;
    let mut merged = serde_json::to_value(&before.template.spec).map_err(ApiError::internal)?;
    let mut status = before.template.status;
    for (field, value) in patch {
        if field == "status" {
            let raw = value.as_str().unwrap_or_default();
            status = TemplateStatus::parse("status", raw)?;
            continue;
        }
        if before.issued_count > 0
            && LOCKED_ONCE_ISSUED.contains(&field.as_str())
            && merged.get(&field) != Some(&value)
        {
            return Err(ApiError {
                errors: vec![FieldError::new(
                    field.clone(),
                    "locked",
                    "fixed once coupons of the template have been issued; create a new template",
                )],
                ..ApiError::with_detail(
                    ErrorCode::Conflict,
                    format!("{field} cannot change once coupons have been issued"),
                )
            });
        }
        if let Some(object) = merged.as_object_mut() {
            object.insert(field, value);
        }
    }
    let spec: TemplateInput = crate::app::json::parse_json(merged.to_string().as_bytes())?;
    if spec != before.template.spec {
        spec.validate(m.now)?;
    }
    let placement = placement_of(&mut m.session, m.tenant, &spec).await?;
    writable(caller, RecordClass::Org, &placement)?;
    let after = StoredTemplate {
        template: CouponTemplate { id, spec, status },
        format_id: placement.format_id.map(|id| id.0),
        store_id: placement.store_id.map(|id| id.0),
        issued_count: before.issued_count,
        created_at: before.created_at,
        updated_at: m.now,
    };
    if !store::update_template(&mut m.session, m.tenant, &after).await? {
        return Err(FieldError::new(
            "total_quota",
            "below_issued",
            format!("{} coupons were already issued", before.issued_count),
        )
        .into());
    }
    m.audit(
        "coupon_template.updated",
        "coupon_template",
        id,
        json!({ "before": before.template.spec, "after": after.template.spec,
                "status_before": before.template.status, "status": status }),
    )
    .await?;
    Ok(after.into())
}
