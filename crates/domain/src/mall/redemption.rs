//! A redemption's delivery and its state machine.
//!
//! ```text
//! pending ──ship──▶ shipped ──complete──▶ completed
//!    │                 │
//!    ├──collect──▶ collected ──complete──▶ completed
//!    │                 │
//!    └──cancel──▶ cancelled ◀──cancel── shipped (parcel refused or returned)
//! ```
//! Donations and coupons are delivered the moment they are redeemed and start `completed`.
//! Cancelling returns the points and the stock; a collected or completed redemption is final.

use crate::identity::Phone;
use crate::ids::StoreId;
use crate::org::wire_enum;
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::reward::{Fulfilment, RewardKind};

wire_enum!(
    /// Where a redemption stands.
    RedemptionState {
        /// Points taken; waiting to be shipped or collected.
        Pending => "pending",
        Shipped => "shipped",
        /// Handed over (or served) at a store.
        Collected => "collected",
        /// Received and final.
        Completed => "completed",
        /// Points and stock returned.
        Cancelled => "cancelled",
    }
);

wire_enum!(
    /// What staff (or the member) do to a redemption.
    Action {
        Ship => "ship",
        Collect => "collect",
        Complete => "complete",
        Cancel => "cancel",
    }
);

wire_enum!(
    /// How a redemption is delivered.
    DeliveryMethod {
        Ship => "ship",
        Collect => "collect",
        /// Nothing to deliver (donations, coupons), or a service any store may serve.
        None => "none",
    }
);

/// Longest recipient name, in characters.
pub const MAX_RECIPIENT_CHARS: usize = 50;
/// Longest street address, in characters.
pub const MAX_ADDRESS_CHARS: usize = 300;
/// Longest region part (province, city, district), in characters.
pub const MAX_REGION_CHARS: usize = 50;

/// Where to ship: personal data, sealed at rest and masked for callers without `pii:read`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingAddress {
    pub recipient: String,
    /// A Chinese mobile number in any common spelling; stored normalised.
    pub phone: String,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub district: String,
    /// Street, building, room.
    pub address: String,
}

fn check_text(errors: &mut FieldErrors, field: &str, value: &str, max: usize, required: bool) {
    let trimmed = value.trim();
    if required && trimmed.is_empty() {
        errors.push(FieldError::new(field, "required", "must not be empty"));
    } else if trimmed.chars().count() > max {
        errors.push(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    } else if trimmed.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "invalid_characters",
            "must not contain control characters",
        ));
    }
}

impl ShippingAddress {
    /// The address trimmed, its phone normalised; every problem reported under `field`.
    pub fn parse(&self, field: &str) -> Result<ShippingAddress, FieldErrors> {
        let mut errors = FieldErrors::new();
        check_text(
            &mut errors,
            &format!("{field}.recipient"),
            &self.recipient,
            MAX_RECIPIENT_CHARS,
            true,
        );
        let phone = errors.take(Phone::parse(&format!("{field}.phone"), &self.phone));
        for (name, value) in [
            ("province", &self.province),
            ("city", &self.city),
            ("district", &self.district),
        ] {
            check_text(
                &mut errors,
                &format!("{field}.{name}"),
                value,
                MAX_REGION_CHARS,
                false,
            );
        }
        check_text(
            &mut errors,
            &format!("{field}.address"),
            &self.address,
            MAX_ADDRESS_CHARS,
            true,
        );
        errors.finish()?;
        Ok(ShippingAddress {
            recipient: self.recipient.trim().to_owned(),
            phone: phone.map_or_else(String::new, |p| p.as_str().to_owned()),
            province: self.province.trim().to_owned(),
            city: self.city.trim().to_owned(),
            district: self.district.trim().to_owned(),
            address: self.address.trim().to_owned(),
        })
    }
}

/// How the member wants the reward delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "method", rename_all = "snake_case", deny_unknown_fields)]
pub enum Delivery {
    /// Collect at (or be served in) this store.
    Collect {
        store_id: StoreId,
    },
    Ship {
        address: ShippingAddress,
    },
    None,
}

impl Delivery {
    pub fn method(&self) -> DeliveryMethod {
        match self {
            Delivery::Collect { .. } => DeliveryMethod::Collect,
            Delivery::Ship { .. } => DeliveryMethod::Ship,
            Delivery::None => DeliveryMethod::None,
        }
    }

    /// Checks the delivery against the reward; answers it parsed (address normalised).
    pub fn parse_for(
        &self,
        kind: RewardKind,
        fulfilment: Option<Fulfilment>,
    ) -> Result<Delivery, FieldErrors> {
        let method = self.method();
        let allowed: &[DeliveryMethod] = match (kind, fulfilment) {
            (RewardKind::Goods, Some(Fulfilment::Ship)) => &[DeliveryMethod::Ship],
            (RewardKind::Goods, Some(Fulfilment::Collect)) => &[DeliveryMethod::Collect],
            (RewardKind::Goods, _) => &[DeliveryMethod::Ship, DeliveryMethod::Collect],
            (RewardKind::Service, _) => &[DeliveryMethod::Collect, DeliveryMethod::None],
            (RewardKind::Donation | RewardKind::Coupon, _) => &[DeliveryMethod::None],
        };
        if !allowed.contains(&method) {
            let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
            return Err(FieldErrors::single(FieldError::new(
                "delivery.method",
                "invalid_for_reward",
                format!("this reward is delivered by: {}", names.join(", ")),
            )));
        }
        match self {
            Delivery::Ship { address } => Ok(Delivery::Ship {
                address: address.parse("delivery.address")?,
            }),
            other => Ok(other.clone()),
        }
    }
}

/// The state a redemption starts in: delivered at once for donations and coupons.
pub fn initial_state(kind: RewardKind) -> RedemptionState {
    match kind {
        RewardKind::Donation | RewardKind::Coupon => RedemptionState::Completed,
        RewardKind::Goods | RewardKind::Service => RedemptionState::Pending,
    }
}

/// An action the state does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a {state} redemption", action = .action.as_str(), state = .state.as_str())]
pub struct InvalidTransition {
    pub state: RedemptionState,
    pub action: Action,
}

/// The state after `action`, for a redemption delivered by `method`.
pub fn next_state(
    state: RedemptionState,
    action: Action,
    method: DeliveryMethod,
) -> Result<RedemptionState, InvalidTransition> {
    use RedemptionState as S;
    let next = match (state, action, method) {
        (S::Pending, Action::Ship, DeliveryMethod::Ship) => Some(S::Shipped),
        (S::Pending, Action::Collect, DeliveryMethod::Collect | DeliveryMethod::None) => {
            Some(S::Collected)
        }
        (S::Shipped | S::Collected, Action::Complete, _) => Some(S::Completed),
        (S::Pending | S::Shipped, Action::Cancel, _) => Some(S::Cancelled),
        _ => None,
    };
    next.ok_or(InvalidTransition { state, action })
}

/// Whether a redemption in `state` can still change.
pub fn is_open(state: RedemptionState) -> bool {
    matches!(
        state,
        RedemptionState::Pending | RedemptionState::Shipped | RedemptionState::Collected
    )
}
