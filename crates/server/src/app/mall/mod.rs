//! The points mall (积分商城) as a service: the rewards catalogue ([`catalogue`]), redeeming a
//! reward in one transaction ([`redeem`]), fulfilling and cancelling redemptions ([`fulfil`]),
//! the eligibility preview ([`preview`]), and the views and profile section ([`views`]).
//!
//! A redemption takes stock (guarded `stock >= q`), the member's limit counters (guarded upsert)
//! and points (the ledger's guarded spend) in the caller's [`crate::app::mutation::Mutation`]: if any
//! is refused the transaction rolls back and nothing is taken. A cancellation is a
//! compare-and-set on the state first, so points, stock and counters come back exactly once.
//!
//! Data scopes: a reward is placed by its supplier store (a mall merchant edits its own rewards)
//! or its format; a redemption by the supplier store or else its collection store. Redemptions
//! are seen only within the caller's own placements — a merchant's staff see their own rewards'
//! redemptions, a store's staff those collected at their store, HQ everything; redemptions of
//! group-wide rewards shipped to the member are HQ's (and the member's own channel's).

pub mod catalogue;
pub mod fulfil;
pub mod preview;
pub mod redeem;
pub mod views;

use huiyuan_domain::auth::{Access, Permission, Placement, Principal, RecordClass, ScopePredicate};
use huiyuan_domain::ids::{FormatId, StoreId};
use huiyuan_domain::mall::RewardSpec;
use huiyuan_store::mall::StoredRedemption;

pub use views::{RedemptionView, RewardView, mall_section};

/// The natural key of a redemption's points spend in the ledger.
pub fn spend_key(redemption: uuid::Uuid) -> String {
    format!("mall:{redemption}:spend")
}

/// The natural key of the coupon issued for one unit of a coupon reward's redemption.
pub fn coupon_key(redemption: uuid::Uuid, unit: i64) -> String {
    format!("mall:{redemption}:coupon:{unit}")
}

/// The natural key of the reversal posted when a redemption is cancelled.
pub fn reversal_key(redemption: uuid::Uuid) -> String {
    format!("mall:{redemption}:reverse")
}

/// Where a reward sits for data scopes: its supplier, else its catalogue's format.
pub fn reward_placement(spec: &RewardSpec) -> Placement {
    Placement {
        format_id: spec.spending_format(),
        store_id: spec.supplier_store_id,
        guide_id: None,
    }
}

/// Where a redemption sits for data scopes.
pub fn redemption_placement(redemption: &StoredRedemption) -> Placement {
    Placement {
        format_id: redemption.format_id.map(FormatId),
        store_id: redemption.store_id.map(StoreId),
        guide_id: None,
    }
}

/// Which redemptions the caller sees: only those placed inside their own scope (no group-wide
/// ones unless they are tenant-wide), so a merchant sees no other supplier's redemptions.
pub fn redemption_scope(caller: &Principal) -> ScopePredicate {
    caller.predicate(Access::Write, RecordClass::Org)
}

/// Reading the catalogue is open to whoever serves members (channel keys, staff) and to the
/// mall's operators.
pub fn require_catalogue_read(caller: &Principal) -> Result<(), huiyuan_domain::auth::Denied> {
    caller
        .require(Permission::MembersRead)
        .or_else(|_| caller.require(Permission::MallWrite))
        .or_else(|_| caller.require(Permission::OrgRead))
}
