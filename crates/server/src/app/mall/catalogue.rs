//! The rewards catalogue: creating, changing, restocking and archiving rewards. The domain checks
//! a reward's own fields; here the references are checked against storage (formats, the
//! supplier store, the tier code), the caller's scope is applied to where the reward sits, and
//! every change is audited.

use super::{RewardView, reward_placement};
use crate::app::access::writable;
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use huiyuan_domain::auth::{Principal, RecordClass};
use huiyuan_domain::coupons::TemplateStatus;
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::ids::{FormatId, RewardId};
use huiyuan_domain::mall::{RewardKind, RewardPatch, RewardSpec};
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::mall::{StoredReward, rewards};
use huiyuan_store::{Session, org};
use serde_json::json;
use uuid::Uuid;

/// Checks a format reference: it exists and is not archived.
async fn check_format(
    session: &mut Session,
    tenant: TenantId,
    field: &str,
    id: FormatId,
    errors: &mut FieldErrors,
) -> ApiResult<()> {
    match org::get_format(session, tenant, id).await? {
        Some(format) if !format.archived => {}
        Some(_) => errors.push(FieldError::new(field, "archived", "the format is archived")),
        None => errors.push(FieldError::new(field, "not_found", "no such format")),
    }
    Ok(())
}

/// Checks what the domain cannot: the formats and supplier store exist (the supplier's format is
/// set from its store), the tier code is on the ladder, and a coupon reward's template is active.
pub async fn resolve_references(
    session: &mut Session,
    tenant: TenantId,
    mut spec: RewardSpec,
) -> ApiResult<RewardSpec> {
    let mut errors = FieldErrors::new();
    if let (RewardKind::Coupon, Some(template_id)) = (spec.kind, spec.coupon_template_id) {
        check_coupon_template(session, tenant, template_id, &mut errors).await?;
    }
    if let Some(format) = spec.format_id {
        check_format(session, tenant, "format_id", format, &mut errors).await?;
    }
    if let Some(store_id) = spec.supplier_store_id {
        match org::get_store(session, tenant, store_id).await? {
            Some(store) if store.archived => errors.push(FieldError::new(
                "supplier_store_id",
                "archived",
                "the store is archived",
            )),
            Some(store) => match spec.supplier_format_id {
                Some(format) if format != store.format_id => errors.push(FieldError::new(
                    "supplier_format_id",
                    "mismatch",
                    "must be the supplier store's format, or absent",
                )),
                _ => spec.supplier_format_id = Some(store.format_id),
            },
            None => errors.push(FieldError::new(
                "supplier_store_id",
                "not_found",
                "no such store",
            )),
        }
    } else if let Some(format) = spec.supplier_format_id {
        check_format(session, tenant, "supplier_format_id", format, &mut errors).await?;
    }
    check_tier_code(session, tenant, spec.min_tier_code.as_deref(), &mut errors).await?;
    errors.finish()?;
    Ok(spec)
}

/// A coupon reward's template exists and is active: redeeming the reward issues its coupons.
async fn check_coupon_template(
    session: &mut Session,
    tenant: TenantId,
    template_id: Uuid,
    errors: &mut FieldErrors,
) -> ApiResult<()> {
    let field = "coupon_template_id";
    match huiyuan_store::coupons::get_template(session, tenant, template_id).await? {
        Some(stored) if stored.template.status == TemplateStatus::Active => {}
        Some(_) => errors.push(FieldError::new(
            field,
            "archived",
            "the template is archived",
        )),
        None => errors.push(FieldError::new(
            field,
            "not_found",
            "no such coupon template",
        )),
    }
    Ok(())
}

/// A tier-only reward's tier is on the ladder.
async fn check_tier_code(
    session: &mut Session,
    tenant: TenantId,
    code: Option<&str>,
    errors: &mut FieldErrors,
) -> ApiResult<()> {
    let Some(code) = code else {
        return Ok(());
    };
    match crate::app::tiers::ladder::load(session, tenant).await? {
        Some(ladder) if ladder.level(code).is_some() => {}
        Some(_) => errors.push(FieldError::new(
            "min_tier_code",
            "not_found",
            format!("the tier ladder has no level '{code}'"),
        )),
        None => errors.push(FieldError::new(
            "min_tier_code",
            "no_ladder",
            "no tier ladder is configured",
        )),
    }
    Ok(())
}

/// Creates a reward with `stock` units (`None`: unlimited).
pub async fn create(
    m: &mut Mutation,
    caller: &Principal,
    spec: RewardSpec,
    stock: Option<i64>,
) -> ApiResult<RewardView> {
    let spec = resolve_references(&mut m.session, m.tenant, spec).await?;
    writable(caller, RecordClass::Org, &reward_placement(&spec))?;
    let reward = StoredReward {
        id: RewardId::new(),
        spec,
        stock,
        archived: false,
        created_at: m.now,
        updated_at: m.now,
    };
    rewards::insert(&mut m.session, m.tenant, &reward).await?;
    m.audit(
        "reward.created",
        "reward",
        reward.id,
        json!({ "spec": reward.spec, "stock": reward.stock }),
    )
    .await?;
    Ok(RewardView::from(reward))
}

/// The reward when the caller may change it; 404 when they may not even see it.
pub async fn writable_reward(
    m: &mut Mutation,
    caller: &Principal,
    id: RewardId,
) -> ApiResult<StoredReward> {
    let reward = crate::app::access::visible(
        caller,
        rewards::get(&mut m.session, m.tenant, id).await?,
        RecordClass::Org,
        |reward: &StoredReward| reward_placement(&reward.spec),
        "reward",
    )?;
    writable(caller, RecordClass::Org, &reward_placement(&reward.spec))?;
    Ok(reward)
}

/// Applies a patch: configuration, then stock (by delta or mode switch, never by overwriting).
pub async fn update(
    m: &mut Mutation,
    caller: &Principal,
    id: RewardId,
    patch: RewardPatch,
) -> ApiResult<RewardView> {
    let before = writable_reward(m, caller, id).await?;
    let next = patch.apply(&before.spec);
    next.validate()?;
    patch.validate_stock()?;
    // Formats and supplier are fixed after creation; only a new tier code needs checking (a
    // reward whose store was archived since can still be changed).
    if next.min_tier_code != before.spec.min_tier_code {
        let mut errors = FieldErrors::new();
        check_tier_code(
            &mut m.session,
            m.tenant,
            next.min_tier_code.as_deref(),
            &mut errors,
        )
        .await?;
        errors.finish()?;
    }
    if next != before.spec {
        rewards::update_spec(&mut m.session, m.tenant, id, &next, m.now).await?;
    }
    match (patch.unlimited_stock, patch.stock_delta) {
        (Some(true), _) => {
            rewards::set_stock_mode(&mut m.session, m.tenant, id, None, m.now).await?;
        }
        (Some(false), delta) if before.stock.is_none() => {
            let units = delta.unwrap_or(0);
            if units < 0 {
                return Err(FieldError::new(
                    "stock_delta",
                    "out_of_range",
                    "a new stock starts at 0 or more",
                )
                .into());
            }
            rewards::set_stock_mode(&mut m.session, m.tenant, id, Some(units), m.now).await?;
        }
        (_, Some(delta)) if delta != 0 => {
            if before.stock.is_none() {
                return Err(FieldError::new(
                    "stock_delta",
                    "unlimited_stock",
                    "the stock is unlimited; send unlimited_stock: false to limit it",
                )
                .into());
            }
            if !rewards::add_stock(&mut m.session, m.tenant, id, delta, m.now).await? {
                return Err(ApiError {
                    errors: vec![FieldError::new(
                        "stock_delta",
                        "below_zero",
                        "would take the stock below zero",
                    )],
                    ..ApiError::with_detail(ErrorCode::OutOfStock, "not that many units are left")
                });
            }
        }
        _ => {}
    }
    let after = rewards::get(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("reward"))?;
    m.audit(
        "reward.updated",
        "reward",
        id,
        json!({
            "before": { "spec": before.spec, "stock": before.stock },
            "after": { "spec": after.spec, "stock": after.stock },
            "stock_delta": patch.stock_delta,
        }),
    )
    .await?;
    Ok(RewardView::from(after))
}

/// Archives (takes off the catalogue; redemptions already made go on) or restores a reward.
pub async fn set_archived(
    m: &mut Mutation,
    caller: &Principal,
    id: RewardId,
    archived: bool,
) -> ApiResult<RewardView> {
    writable_reward(m, caller, id).await?;
    if rewards::set_archived(&mut m.session, m.tenant, id, archived, m.now).await? {
        let action = if archived {
            "reward.archived"
        } else {
            "reward.restored"
        };
        m.audit(action, "reward", id, json!({})).await?;
    }
    let after = rewards::get(&mut m.session, m.tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found("reward"))?;
    Ok(RewardView::from(after))
}
