//! A reward of the points mall catalogue (积分商城商品) as staff configure it, and the checks it
//! passes before it is saved. What needs storage (the supplier store exists, the tier code is on
//! the ladder) is checked by the server; everything else is here.

use crate::ids::{FormatId, StoreId};
use crate::org::{Name, wire_enum};
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Highest price accepted: 100 million points.
pub const MAX_POINTS: i64 = 100_000_000;
/// Highest cash part accepted: ¥1,000,000 in fen.
pub const MAX_CASH_FEN: i64 = 100_000_000;
/// Highest stock, limit or restock accepted in one go.
pub const MAX_STOCK: i64 = 100_000_000;
/// Highest per-member limit.
pub const MAX_LIMIT: i64 = 100_000;
/// Most units one redemption may take.
pub const MAX_QUANTITY: i64 = 100;
/// Units one redemption may take unless the reward says otherwise.
pub const DEFAULT_MAX_QUANTITY: i64 = 10;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest image URL, in bytes.
pub const MAX_URL_LEN: usize = 500;

wire_enum!(
    /// What the member gets.
    RewardKind {
        /// Physical goods, shipped or collected at a store (实物).
        Goods => "goods",
        /// A service delivered at a store (a car wash, a spa session …).
        Service => "service",
        /// Points given to a charity (公益捐赠); completed at once, never cancelled.
        Donation => "donation",
        /// A coupon of a coupon template, issued at once (兑换券).
        Coupon => "coupon",
    }
);

wire_enum!(
    /// How goods reach the member.
    Fulfilment {
        Ship => "ship",
        Collect => "collect",
        ShipOrCollect => "ship_or_collect",
    }
);

wire_enum!(
    /// A calendar period in the tenant's time zone for per-member limits.
    LimitPeriod {
        Day => "day",
        /// ISO weeks, Monday to Sunday.
        Week => "week",
        Month => "month",
        Year => "year",
    }
);

/// At most `quantity` units per member in each `period` (e.g. 1 per month: 每月限兑1件).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodLimit {
    pub period: LimitPeriod,
    pub quantity: i64,
}

/// Who supplies a reward, for the revenue split: a merchant store, a format, or the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supplier {
    Store {
        store_id: StoreId,
        format_id: FormatId,
    },
    Format(FormatId),
    Group,
}

/// A reward's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardSpec {
    pub kind: RewardKind,
    /// Display name, 1 to 100 characters.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub image_url: Option<String>,
    /// Points per unit, at least 1.
    pub points: i64,
    /// Cash per unit in fen on top of the points (积分+现金); 0 for points only.
    #[serde(default)]
    pub cash_fen: i64,
    /// Goods only: ship, collect at a store, or either. Services are collected (served) at a
    /// store; donations and coupons need no delivery.
    #[serde(default)]
    pub fulfilment: Option<Fulfilment>,
    /// Coupon rewards only: the coupon template issued.
    #[serde(default)]
    pub coupon_template_id: Option<Uuid>,
    /// Tier-only reward (会员专享): the lowest tier code that may redeem it.
    #[serde(default)]
    pub min_tier_code: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub available_from: Option<OffsetDateTime>,
    /// The first instant the reward can no longer be redeemed.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub available_until: Option<OffsetDateTime>,
    /// Most units per member over all time.
    #[serde(default)]
    pub limit_total: Option<i64>,
    /// Most units per member per calendar period in the tenant's time zone.
    #[serde(default)]
    pub limit_per_period: Option<PeriodLimit>,
    /// Most units in one redemption (default 10, at most 100).
    #[serde(default = "default_max_quantity")]
    pub max_quantity: i64,
    /// The format whose catalogue lists the reward; absent for the group-wide catalogue.
    #[serde(default)]
    pub format_id: Option<FormatId>,
    /// The merchant or store supplying the reward (revenue split, 分润).
    #[serde(default)]
    pub supplier_store_id: Option<StoreId>,
    /// The format supplying the reward when no store does; set from the store when one does.
    #[serde(default)]
    pub supplier_format_id: Option<FormatId>,
}

fn default_max_quantity() -> i64 {
    DEFAULT_MAX_QUANTITY
}

/// A partial update: absent fields stay as they are. Stock changes by `stock_delta`, never by
/// an absolute value, so a restock never overwrites what concurrent redemptions took.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewardPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub image_url: Option<String>,
    pub points: Option<i64>,
    pub cash_fen: Option<i64>,
    pub fulfilment: Option<Fulfilment>,
    pub min_tier_code: Option<String>,
    /// Removes the tier restriction.
    #[serde(default)]
    pub clear_min_tier: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub available_from: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub available_until: Option<OffsetDateTime>,
    /// Removes both ends of the time window.
    #[serde(default)]
    pub clear_window: bool,
    pub limit_total: Option<i64>,
    pub limit_per_period: Option<PeriodLimit>,
    /// Removes both per-member limits.
    #[serde(default)]
    pub clear_limits: bool,
    pub max_quantity: Option<i64>,
    /// Units to add (restock) or remove from a limited stock; never below zero.
    pub stock_delta: Option<i64>,
    /// `true` makes the stock unlimited; `false` makes an unlimited stock limited, starting
    /// from `stock_delta` (0 when absent).
    pub unlimited_stock: Option<bool>,
}

impl RewardPatch {
    /// The configuration after the patch; validate it before saving. Kind, formats, supplier and
    /// coupon template are fixed once a reward exists: redemptions refer to them.
    pub fn apply(&self, spec: &RewardSpec) -> RewardSpec {
        let mut next = spec.clone();
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        if let Some(description) = &self.description {
            next.description.clone_from(description);
        }
        if let Some(url) = &self.image_url {
            next.image_url = Some(url.clone()).filter(|url| !url.is_empty());
        }
        next.points = self.points.unwrap_or(next.points);
        next.cash_fen = self.cash_fen.unwrap_or(next.cash_fen);
        if self.fulfilment.is_some() {
            next.fulfilment = self.fulfilment;
        }
        if self.clear_min_tier {
            next.min_tier_code = None;
        } else if let Some(code) = &self.min_tier_code {
            next.min_tier_code = Some(code.clone());
        }
        if self.clear_window {
            next.available_from = None;
            next.available_until = None;
        }
        next.available_from = self.available_from.or(next.available_from);
        next.available_until = self.available_until.or(next.available_until);
        if self.clear_limits {
            next.limit_total = None;
            next.limit_per_period = None;
        }
        next.limit_total = self.limit_total.or(next.limit_total);
        next.limit_per_period = self.limit_per_period.or(next.limit_per_period);
        next.max_quantity = self.max_quantity.unwrap_or(next.max_quantity);
        next
    }

    /// Checks the stock change itself.
    pub fn validate_stock(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        if let Some(delta) = self.stock_delta
            && !(-MAX_STOCK..=MAX_STOCK).contains(&delta)
        {
            errors.push(FieldError::new(
                "stock_delta",
                "out_of_range",
                format!("must be between -{MAX_STOCK} and {MAX_STOCK}"),
            ));
        }
        if self.unlimited_stock == Some(true) && self.stock_delta.is_some() {
            errors.push(FieldError::new(
                "stock_delta",
                "conflicting",
                "an unlimited stock takes no delta",
            ));
        }
        errors.finish()
    }
}

fn check_range(errors: &mut FieldErrors, field: &str, value: i64, min: i64, max: i64) {
    if !(min..=max).contains(&value) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            format!("must be between {min} and {max}"),
        ));
    }
}

impl RewardSpec {
    /// The initial stock must be between 0 and [`MAX_STOCK`] when limited.
    pub fn validate_stock(stock: Option<i64>) -> Result<(), FieldError> {
        match stock {
            Some(stock) if !(0..=MAX_STOCK).contains(&stock) => Err(FieldError::new(
                "stock",
                "out_of_range",
                format!("must be between 0 and {MAX_STOCK}, or absent for unlimited"),
            )),
            _ => Ok(()),
        }
    }

    /// Checks the configuration and reports every problem at once.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.take(Name::parse("name", &self.name));
        if self.name.trim() != self.name {
            errors.push(FieldError::new(
                "name",
                "invalid_format",
                "must not have surrounding spaces",
            ));
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.push(FieldError::new(
                "description",
                "too_long",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        if let Some(url) = &self.image_url
            && (url.len() > MAX_URL_LEN
                || !(url.starts_with("https://") || url.starts_with("http://"))
                || url.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            errors.push(FieldError::new(
                "image_url",
                "invalid_format",
                format!("must be an http(s) URL of at most {MAX_URL_LEN} characters"),
            ));
        }
        check_range(&mut errors, "points", self.points, 1, MAX_POINTS);
        check_range(&mut errors, "cash_fen", self.cash_fen, 0, MAX_CASH_FEN);
        check_range(
            &mut errors,
            "max_quantity",
            self.max_quantity,
            1,
            MAX_QUANTITY,
        );
        self.check_kind(&mut errors);
        if let (Some(from), Some(until)) = (self.available_from, self.available_until)
            && until <= from
        {
            errors.push(FieldError::new(
                "available_until",
                "before_start",
                "must be after available_from",
            ));
        }
        if let Some(total) = self.limit_total {
            check_range(&mut errors, "limit_total", total, 1, MAX_LIMIT);
        }
        if let Some(limit) = self.limit_per_period {
            check_range(
                &mut errors,
                "limit_per_period.quantity",
                limit.quantity,
                1,
                MAX_LIMIT,
            );
            if self.limit_total.is_some_and(|total| limit.quantity > total) {
                errors.push(FieldError::new(
                    "limit_per_period.quantity",
                    "above_total",
                    "must not exceed limit_total",
                ));
            }
        }
        if let Some(code) = &self.min_tier_code
            && code.trim().is_empty()
        {
            errors.push(FieldError::new(
                "min_tier_code",
                "required",
                "must name a tier, or be absent",
            ));
        }
        errors.finish()
    }

    fn check_kind(&self, errors: &mut FieldErrors) {
        let fulfilment_ok = match self.kind {
            RewardKind::Goods => self.fulfilment.is_some(),
            RewardKind::Service => matches!(self.fulfilment, None | Some(Fulfilment::Collect)),
            RewardKind::Donation | RewardKind::Coupon => self.fulfilment.is_none(),
        };
        if !fulfilment_ok {
            let message = match self.kind {
                RewardKind::Goods => "goods need one of: ship, collect, ship_or_collect",
                RewardKind::Service => "a service is collected (served) at a store",
                RewardKind::Donation | RewardKind::Coupon => "this kind needs no fulfilment",
            };
            errors.push(FieldError::new("fulfilment", "invalid_for_kind", message));
        }
        match (self.kind, self.coupon_template_id) {
            (RewardKind::Coupon, None) => errors.push(FieldError::new(
                "coupon_template_id",
                "required",
                "a coupon reward names its coupon template",
            )),
            (RewardKind::Coupon, Some(_)) | (_, None) => {}
            (_, Some(_)) => errors.push(FieldError::new(
                "coupon_template_id",
                "invalid_for_kind",
                "only coupon rewards name a coupon template",
            )),
        }
        if self.kind == RewardKind::Donation && self.cash_fen != 0 {
            errors.push(FieldError::new(
                "cash_fen",
                "invalid_for_kind",
                "a donation is paid in points only",
            ));
        }
    }

    /// Who supplies the reward; `supplier_format_id` must already be the store's format when a
    /// store supplies it (the server sets it so).
    pub fn supplier(&self) -> Supplier {
        match (self.supplier_store_id, self.supplier_format_id) {
            (Some(store_id), Some(format_id)) => Supplier::Store {
                store_id,
                format_id,
            },
            (None, Some(format_id)) => Supplier::Format(format_id),
            _ => Supplier::Group,
        }
    }

    /// The format whose redemption account claims the points spent on this reward (the
    /// member's spending format for inter-format settlement): the supplier's, else the
    /// catalogue's, else none (the group).
    pub fn spending_format(&self) -> Option<FormatId> {
        self.supplier_format_id.or(self.format_id)
    }
}
