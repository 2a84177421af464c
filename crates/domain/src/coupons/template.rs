//! A coupon template (券模板): what its coupons are worth, when and where they apply, how they
//! combine, how many may be issued, who pays for them, and which events issue them on their own.
//! A template is validated as a whole on save; every problem is reported with its field path.

use super::applicability::Applicability;
use crate::ids::{FormatId, StoreId};
use crate::org::wire_enum;
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Largest amount in fen anywhere on a template: ¥100 million.
pub const MAX_FEN: i64 = 10_000_000_000;
/// Longest a coupon may be valid: ten years.
pub const MAX_VALID_DAYS: u32 = 3_650;
/// Most free parking hours one coupon grants (a month).
pub const MAX_PARKING_HOURS: u32 = 720;
/// Most coupons of one template a member may hold over time, when a quota is set.
pub const MAX_PER_MEMBER_QUOTA: u32 = 10_000;
/// Most coupons of one template ever, when a quota is set.
pub const MAX_TOTAL_QUOTA: i64 = 1_000_000_000;
/// Longest template name and service name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1_000;
/// Longest SKU or category segment, in characters.
pub const MAX_SKU_CHARS: usize = 64;

wire_enum!(
    /// The kind of a coupon's benefit.
    BenefitKind {
        /// 满减: a fixed amount off once the eligible amount reaches a threshold.
        CashOff => "cash_off",
        /// 折扣券: a share off the eligible amount, optionally capped.
        PercentOff => "percent_off",
        /// 礼品券: one unit of a gift item free.
        Gift => "gift",
        /// 免运费: the shipping fee off.
        FreeShipping => "free_shipping",
        /// 停车券: free parking hours.
        Parking => "parking",
        /// 服务券: a service (a car wash, a spa session, a scenic-spot ticket).
        ServiceVoucher => "service_voucher",
    }
);

impl BenefitKind {
    /// Where coupons of this kind come in the order discounts are applied: gifts first (they
    /// take a whole item), then fixed amounts, then percentages of what is left, then shipping,
    /// then vouchers that take nothing off the cart.
    pub fn application_rank(self) -> u8 {
        match self {
            BenefitKind::Gift => 0,
            BenefitKind::CashOff => 1,
            BenefitKind::PercentOff => 2,
            BenefitKind::FreeShipping => 3,
            BenefitKind::Parking => 4,
            BenefitKind::ServiceVoucher => 5,
        }
    }
}

/// What a coupon is worth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Benefit {
    /// 满减: `amount_fen` off once the eligible amount reaches `threshold_fen` (0: no threshold).
    CashOff {
        amount_fen: i64,
        #[serde(default)]
        threshold_fen: i64,
    },
    /// `off_permille` of the eligible amount off (120 = 12% off, 88折), at most `cap_fen`, once
    /// the eligible amount reaches `threshold_fen`.
    PercentOff {
        off_permille: u32,
        #[serde(default)]
        cap_fen: Option<i64>,
        #[serde(default)]
        threshold_fen: i64,
    },
    /// One unit of `sku` free; at most `value_fen` off when set.
    Gift {
        sku: String,
        #[serde(default)]
        value_fen: Option<i64>,
    },
    /// The shipping fee off, at most `cap_fen` when set.
    FreeShipping {
        #[serde(default)]
        cap_fen: Option<i64>,
    },
    /// `hours` of free parking; `value_fen` is what the hours are worth, for settlement.
    Parking {
        hours: u32,
        #[serde(default)]
        value_fen: i64,
    },
    /// A service; `value_fen` is what it is worth, for settlement.
    ServiceVoucher {
        service: String,
        #[serde(default)]
        value_fen: i64,
    },
}

impl Benefit {
    pub fn kind(&self) -> BenefitKind {
        match self {
            Benefit::CashOff { .. } => BenefitKind::CashOff,
            Benefit::PercentOff { .. } => BenefitKind::PercentOff,
            Benefit::Gift { .. } => BenefitKind::Gift,
            Benefit::FreeShipping { .. } => BenefitKind::FreeShipping,
            Benefit::Parking { .. } => BenefitKind::Parking,
            Benefit::ServiceVoucher { .. } => BenefitKind::ServiceVoucher,
        }
    }

    /// The nominal value in fen (0 where it depends on the cart and has no cap): what settlement
    /// books as the coupon's face value.
    pub fn face_value_fen(&self) -> i64 {
        match self {
            Benefit::CashOff { amount_fen, .. } => *amount_fen,
            Benefit::PercentOff { cap_fen, .. } | Benefit::FreeShipping { cap_fen } => {
                cap_fen.unwrap_or(0)
            }
            Benefit::Gift { value_fen, .. } => value_fen.unwrap_or(0),
            Benefit::Parking { value_fen, .. } | Benefit::ServiceVoucher { value_fen, .. } => {
                *value_fen
            }
        }
    }

    fn validate(&self, errors: &mut FieldErrors) {
        match self {
            Benefit::CashOff {
                amount_fen,
                threshold_fen,
            } => {
                fen(errors, "benefit.amount_fen", *amount_fen, 1);
                fen(errors, "benefit.threshold_fen", *threshold_fen, 0);
                if *threshold_fen > 0 && amount_fen > threshold_fen {
                    errors.push(FieldError::new(
                        "benefit.amount_fen",
                        "exceeds_threshold",
                        "the amount off cannot exceed the threshold",
                    ));
                }
            }
            Benefit::PercentOff {
                off_permille,
                cap_fen,
                threshold_fen,
            } => {
                if !(1..=999).contains(off_permille) {
                    errors.push(FieldError::new(
                        "benefit.off_permille",
                        "out_of_range",
                        "must be between 1 and 999 permille off",
                    ));
                }
                if let Some(cap) = cap_fen {
                    fen(errors, "benefit.cap_fen", *cap, 1);
                }
                fen(errors, "benefit.threshold_fen", *threshold_fen, 0);
            }
            Benefit::Gift { sku, value_fen } => {
                errors.take(check_text("benefit.sku", sku, MAX_SKU_CHARS));
                if let Some(value) = value_fen {
                    fen(errors, "benefit.value_fen", *value, 1);
                }
            }
            Benefit::FreeShipping { cap_fen } => {
                if let Some(cap) = cap_fen {
                    fen(errors, "benefit.cap_fen", *cap, 1);
                }
            }
            Benefit::Parking { hours, value_fen } => {
                if !(1..=MAX_PARKING_HOURS).contains(hours) {
                    errors.push(FieldError::new(
                        "benefit.hours",
                        "out_of_range",
                        format!("must be between 1 and {MAX_PARKING_HOURS}"),
                    ));
                }
                fen(errors, "benefit.value_fen", *value_fen, 0);
            }
            Benefit::ServiceVoucher { service, value_fen } => {
                errors.take(check_text("benefit.service", service, MAX_NAME_CHARS));
                fen(errors, "benefit.value_fen", *value_fen, 0);
            }
        }
    }
}

/// When coupons of a template are valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Validity {
    /// From `starts_at` (included) to `ends_at` (excluded), whenever issued.
    Fixed {
        #[serde(with = "time::serde::rfc3339")]
        starts_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        ends_at: OffsetDateTime,
    },
    /// From issue to the end of the `days`-th business day in the tenant's time zone, the day of
    /// issue counting as the first (`1`: the day of issue only).
    Relative { days: u32 },
}

/// How a coupon combines with others in one order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Stacking {
    /// Alone: no other coupon in the same order.
    Exclusive,
    /// With other stackable coupons of `with_kinds` (every kind when empty) that accept it too.
    Stackable {
        #[serde(default)]
        with_kinds: BTreeSet<BenefitKind>,
    },
}

impl Stacking {
    fn accepts(&self, kind: BenefitKind) -> bool {
        match self {
            Stacking::Exclusive => false,
            Stacking::Stackable { with_kinds } => {
                with_kinds.is_empty() || with_kinds.contains(&kind)
            }
        }
    }

    /// Whether a coupon of `mine` with this policy and one of `theirs` with `other` may be used
    /// together: each must accept the other's kind.
    pub fn combines(&self, mine: BenefitKind, other: &Stacking, theirs: BenefitKind) -> bool {
        self.accepts(theirs) && other.accepts(mine)
    }
}

/// Who pays for the discount (成本承担方).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CostBearer {
    /// The group headquarters.
    Hq,
    /// A business format.
    Format { format_id: FormatId },
    /// A mall merchant (a store with the merchant flag).
    Merchant { store_id: StoreId },
}

impl CostBearer {
    pub fn kind(&self) -> &'static str {
        match self {
            CostBearer::Hq => "hq",
            CostBearer::Format { .. } => "format",
            CostBearer::Merchant { .. } => "merchant",
        }
    }
}

/// Events that issue a template's coupons on their own (rule-based issue).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoIssue {
    /// One coupon to every new member, whatever the channel.
    #[serde(default)]
    pub on_registration: bool,
    /// One coupon on each upgrade to one of these tier levels (by code).
    #[serde(default)]
    pub on_tier_upgrade_to: BTreeSet<String>,
    /// One coupon a year on the member's birthday (in the tenant's time zone).
    #[serde(default)]
    pub on_birthday: bool,
}

impl AutoIssue {
    pub fn is_empty(&self) -> bool {
        !self.on_registration && self.on_tier_upgrade_to.is_empty() && !self.on_birthday
    }
}

wire_enum!(
    /// Whether a template still issues coupons. Coupons already issued stay usable when their
    /// template is archived.
    TemplateStatus {
        Active => "active",
        Archived => "archived",
    }
);

fn default_true() -> bool {
    true
}

/// The body of `POST /coupon-templates`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub benefit: Benefit,
    pub validity: Validity,
    #[serde(default)]
    pub applicability: Applicability,
    pub stacking: Stacking,
    /// Most coupons of this template one member may ever be issued; unlimited when absent.
    #[serde(default)]
    pub per_member_quota: Option<u32>,
    /// Most coupons of this template ever issued; unlimited when absent.
    #[serde(default)]
    pub total_quota: Option<i64>,
    pub cost_bearer: CostBearer,
    /// Whether refunding the order a coupon was redeemed against in full gives the coupon back.
    #[serde(default = "default_true")]
    pub refund_reverses: bool,
    /// The format that issues the coupons (for cross-format settlement); group-wide when absent.
    #[serde(default)]
    pub issuing_format_id: Option<FormatId>,
    #[serde(default)]
    pub auto_issue: AutoIssue,
}

/// A saved template: its id and status, with the configuration flattened beside them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct CouponTemplate {
    pub id: Uuid,
    #[serde(flatten)]
    pub spec: TemplateInput,
    pub status: TemplateStatus,
}

impl TemplateInput {
    /// Every problem with the template as of `now`, each at its field path; `Ok` when valid.
    /// Whether referenced formats, stores and channels exist is the server's check.
    pub fn validate(&self, now: OffsetDateTime) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        errors.take(check_text("name", &self.name, MAX_NAME_CHARS));
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.push(FieldError::new(
                "description",
                "too_long",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        self.benefit.validate(&mut errors);
        match &self.validity {
            Validity::Fixed { starts_at, ends_at } => {
                if ends_at <= starts_at {
                    errors.push(FieldError::new(
                        "validity.ends_at",
                        "before_start",
                        "must be after starts_at",
                    ));
                } else if *ends_at - *starts_at > time::Duration::days(i64::from(MAX_VALID_DAYS)) {
                    errors.push(FieldError::new(
                        "validity.ends_at",
                        "out_of_range",
                        format!("a coupon is valid for at most {MAX_VALID_DAYS} days"),
                    ));
                }
                if *ends_at <= now {
                    errors.push(FieldError::new(
                        "validity.ends_at",
                        "in_the_past",
                        "must be in the future",
                    ));
                }
            }
            Validity::Relative { days } => {
                if !(1..=MAX_VALID_DAYS).contains(days) {
                    errors.push(FieldError::new(
                        "validity.days",
                        "out_of_range",
                        format!("must be between 1 and {MAX_VALID_DAYS}"),
                    ));
                }
            }
        }
        self.applicability.validate("applicability", &mut errors);
        if let Stacking::Stackable { with_kinds } = &self.stacking
            && with_kinds.len() > BenefitKind::ALL.len()
        {
            errors.push(FieldError::new(
                "stacking.with_kinds",
                "too_many",
                "each kind once",
            ));
        }
        if let Some(quota) = self.per_member_quota
            && !(1..=MAX_PER_MEMBER_QUOTA).contains(&quota)
        {
            errors.push(FieldError::new(
                "per_member_quota",
                "out_of_range",
                format!("must be between 1 and {MAX_PER_MEMBER_QUOTA}"),
            ));
        }
        if let Some(quota) = self.total_quota
            && !(1..=MAX_TOTAL_QUOTA).contains(&quota)
        {
            errors.push(FieldError::new(
                "total_quota",
                "out_of_range",
                format!("must be between 1 and {MAX_TOTAL_QUOTA}"),
            ));
        }
        for (index, code) in self.auto_issue.on_tier_upgrade_to.iter().enumerate() {
            errors.take(check_text(
                &format!("auto_issue.on_tier_upgrade_to[{index}]"),
                code,
                MAX_SKU_CHARS,
            ));
        }
        errors.finish()
    }

    /// The validity window of a coupon issued at `issued_at`: `(starts_at, expires_at)`, the
    /// end excluded. `end_of_day` gives the first instant after a business day (the tenant's
    /// zone), `None` when out of range.
    pub fn window_at(
        &self,
        issued_at: OffsetDateTime,
        end_of_day: impl Fn(OffsetDateTime, u32) -> Option<OffsetDateTime>,
    ) -> Option<(OffsetDateTime, OffsetDateTime)> {
        match self.validity {
            Validity::Fixed { starts_at, ends_at } => Some((starts_at, ends_at)),
            Validity::Relative { days } => {
                Some((issued_at, end_of_day(issued_at, days.saturating_sub(1))?))
            }
        }
    }
}

fn fen(errors: &mut FieldErrors, field: &str, value: i64, min: i64) {
    if !(min..=MAX_FEN).contains(&value) {
        errors.push(FieldError::new(
            field,
            "out_of_range",
            format!("must be between {min} and {MAX_FEN} fen"),
        ));
    }
}

/// Non-empty after trimming, at most `max` characters, no control characters; stored as given.
pub(crate) fn check_text(field: &str, text: &str, max: usize) -> Result<(), FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "required", "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "invalid_characters",
            "must not contain control characters",
        ));
    }
    if text.trim() != text {
        return Err(FieldError::new(
            field,
            "invalid_format",
            "must not have surrounding spaces",
        ));
    }
    Ok(())
}
