//! Moving a redemption along: ship, collect, complete, cancel. Each action is decided by the
//! domain's state machine on the state read, then written as a compare-and-set on that state, so
//! two concurrent actions never both apply. A cancellation returns, in the same transaction, the
//! points (into the lots they came from), the stock and the member's limit counters.

use super::views::{RedemptionView, Shipment};
use super::{redemption_placement, redemption_scope, reversal_key, spend_key};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::ledger::{Posting, reverse_spend};
use crate::app::mutation::Mutation;
use crate::app::vault::Vault;
use huiyuan_domain::auth::{Permission, Principal};
use huiyuan_domain::mall::{Action, DeliveryMethod, RedemptionState, next_state};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::mall::{StoredRedemption, limits, redemptions, rewards};
use huiyuan_store::{Session, org};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

/// Longest carrier, tracking number or cancellation reason.
const MAX_TEXT_CHARS: usize = 200;

/// What an action carries: `carrier` and `tracking_no` to ship, optionally the `store_id` where
/// a redemption was collected, optionally a `reason` to cancel.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub store_id: Option<Uuid>,
    pub reason: Option<String>,
}

fn text(field: &str, value: Option<&str>, required: bool) -> ApiResult<Option<String>> {
    let value = value.map(str::trim).filter(|v| !v.is_empty());
    match value {
        None if required => Err(FieldError::new(field, "required", "must not be empty").into()),
        Some(v) if v.chars().count() > MAX_TEXT_CHARS || v.chars().any(char::is_control) => {
            Err(FieldError::new(
                field,
                "invalid_format",
                format!("must be at most {MAX_TEXT_CHARS} printable characters"),
            )
            .into())
        }
        other => Ok(other.map(str::to_owned)),
    }
}

/// A redemption the caller may see; otherwise 404.
pub async fn visible_redemption(
    session: &mut Session,
    caller: &Principal,
    id: Uuid,
) -> ApiResult<StoredRedemption> {
    redemptions::get(session, caller.tenant_id, id)
        .await?
        .filter(|r| redemption_scope(caller).matches(&redemption_placement(r)))
        .ok_or_else(|| ApiError::not_found("reward redemption"))
}

/// Operators (`mall:write`) may do everything; whoever acts for the member (`members:write`: the
/// member's mini-program) may confirm receipt and cancel a redemption still pending.
fn permitted(caller: &Principal, action: Action, state: RedemptionState) -> ApiResult<()> {
    if caller.require(Permission::MallWrite).is_ok() {
        return Ok(());
    }
    let member_may = match action {
        Action::Complete => true,
        Action::Cancel => state == RedemptionState::Pending,
        Action::Ship | Action::Collect => false,
    };
    if member_may && caller.require(Permission::MembersWrite).is_ok() {
        return Ok(());
    }
    Err(caller.require(Permission::MallWrite).err().map_or_else(
        || ApiError::new(ErrorCode::PermissionDenied),
        ApiError::from,
    ))
}

/// Applies `action` to redemption `id`.
pub async fn act(
    m: &mut Mutation,
    vault: &Vault,
    caller: &Principal,
    id: Uuid,
    action: Action,
    request: ActionRequest,
) -> ApiResult<RedemptionView> {
    let before = visible_redemption(&mut m.session, caller, id).await?;
    let state = RedemptionState::parse("state", &before.state)
        .map_err(|_| ApiError::internal("stored redemption state"))?;
    let method = DeliveryMethod::parse("delivery_method", &before.delivery_method)
        .map_err(|_| ApiError::internal("stored delivery method"))?;
    permitted(caller, action, state)?;
    let next = next_state(state, action, method).map_err(|invalid| ApiError {
        errors: vec![FieldError::new(
            "state",
            "invalid_transition",
            invalid.to_string(),
        )],
        ..ApiError::with_detail(ErrorCode::Conflict, invalid.to_string())
    })?;
    let mut after = before.clone();
    after.state = next.as_str().to_owned();
    after.updated_at = m.now;
    match action {
        Action::Ship => {
            let carrier = text("carrier", request.carrier.as_deref(), true)?.unwrap_or_default();
            let tracking_no =
                text("tracking_no", request.tracking_no.as_deref(), true)?.unwrap_or_default();
            let shipment = Shipment {
                carrier,
                tracking_no,
            };
            after.shipment = Some(serde_json::to_value(shipment).map_err(ApiError::internal)?);
            after.shipped_at = Some(m.now);
        }
        Action::Collect => {
            let store = request.store_id.or(before.collect_store_id);
            if let (Some(chosen), Some(given)) = (before.collect_store_id, request.store_id)
                && chosen != given
            {
                return Err(FieldError::new(
                    "store_id",
                    "not_the_chosen_store",
                    "the member chose another store for collection",
                )
                .into());
            }
            if let Some(store) = store
                && org::get_store(
                    &mut m.session,
                    m.tenant,
                    huiyuan_domain::ids::StoreId(store),
                )
                .await?
                .is_none()
            {
                return Err(FieldError::new("store_id", "not_found", "no such store").into());
            }
            after.collected_store_id = store;
            after.collected_at = Some(m.now);
        }
        Action::Complete => after.completed_at = Some(m.now),
        Action::Cancel => {
            after.cancel_reason = text("reason", request.reason.as_deref(), false)?;
            after.cancelled_at = Some(m.now);
        }
    }
    if !redemptions::update_state(&mut m.session, m.tenant, &before.state, &after).await? {
        return Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the redemption changed meanwhile; read it again",
        ));
    }
    if action == Action::Cancel {
        give_back(m, &after).await?;
    }
    m.audit(
        &format!("reward_redemption.{}", next.as_str()),
        "reward_redemption",
        id,
        json!({ "from": before.state, "to": after.state, "reason": after.cancel_reason }),
    )
    .await?;
    RedemptionView::build(vault, caller, after)
}

/// Returns what a cancelled redemption took: limit counters, points, stock — in the order a
/// redemption takes them, so a cancellation and a redemption by the same member never wait on
/// each other in a cycle.
async fn give_back(m: &mut Mutation, r: &StoredRedemption) -> ApiResult<()> {
    for key in &r.limit_keys {
        limits::give_back(
            &mut m.session,
            m.tenant,
            r.member_id,
            r.reward_id,
            key,
            r.quantity,
        )
        .await?;
    }
    let spend =
        huiyuan_store::ledger::entry_by_natural_key(&mut m.session, m.tenant, &spend_key(r.id))
            .await?
            .ok_or_else(|| ApiError::internal("a redemption without its spend entry"))?;
    let tz = crate::app::tenancy::zone::tenant_zone(&mut m.session, m.tenant).await?;
    let posting = Posting {
        format_id: spend.format_id,
        reference: Some(format!("reward_redemption:{}", r.id)),
        reason: format!("points mall cancellation: {}", r.reward_name),
        natural_key: Some(reversal_key(r.id)),
    };
    // The spend's member may differ from the redemption's after a merge: the points go back to
    // whoever holds the redemption now.
    reverse_spend(m, r.member_id, &spend, &posting, &tz).await?;
    if r.stock_taken {
        // Refused only when the reward has since been made unlimited: nothing to return then.
        rewards::add_stock(&mut m.session, m.tenant, r.reward_id, r.quantity, m.now).await?;
    }
    Ok(())
}
