//! Coupon rule tests: template validation with field paths, applicability, the discount
//! calculation on worked examples, the state machine, and properties over arbitrary carts.

mod discounts;
mod properties;
mod templates;

use super::*;
use crate::ids::{ChannelId, FormatId, MemberId, StoreId};
use jiff::tz::TimeZone;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

pub(super) fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

pub(super) fn now() -> OffsetDateTime {
    datetime!(2026-11-23 04:00 UTC)
}

/// A valid stackable template of `benefit`, valid for 30 days from issue.
pub(super) fn spec(benefit: Benefit) -> TemplateInput {
    TemplateInput {
        name: "测试券".into(),
        description: String::new(),
        benefit,
        validity: Validity::Relative { days: 30 },
        applicability: Applicability::default(),
        stacking: Stacking::Stackable {
            with_kinds: Default::default(),
        },
        per_member_quota: None,
        total_quota: None,
        cost_bearer: CostBearer::Hq,
        refund_reverses: true,
        issuing_format_id: None,
        auto_issue: AutoIssue::default(),
    }
}

pub(super) fn template(spec: TemplateInput) -> CouponTemplate {
    CouponTemplate {
        id: Uuid::now_v7(),
        spec,
        status: TemplateStatus::Active,
    }
}

pub(super) fn cash_off(amount_fen: i64, threshold_fen: i64) -> Benefit {
    Benefit::CashOff {
        amount_fen,
        threshold_fen,
    }
}

pub(super) fn offer<'a>(template: &'a CouponTemplate, member: MemberId) -> CouponOffer<'a> {
    CouponOffer {
        coupon_id: Uuid::now_v7(),
        member_id: member,
        state: CouponState::Available,
        starts_at: now() - time::Duration::days(1),
        expires_at: now() + time::Duration::days(29),
        template,
    }
}

pub(super) fn line(sku: &str, category: &[&str], amount_fen: i64) -> CartLine {
    CartLine {
        sku: sku.into(),
        category_path: category.iter().map(|c| (*c).to_owned()).collect(),
        amount_fen,
        quantity: 1,
        excluded: false,
    }
}

pub(super) fn cart(lines: Vec<CartLine>) -> Cart {
    Cart {
        lines,
        shipping_fen: 0,
        context: CartContext {
            format_id: Some(FormatId::new()),
            store_id: Some(StoreId::new()),
            channel_id: Some(ChannelId::new()),
            tier_code: Some("gold".into()),
            member_id: None,
            at: now(),
        },
    }
}
