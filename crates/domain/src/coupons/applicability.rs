//! Where and for whom a coupon applies (适用范围): formats, stores, channels, tier levels,
//! blackout dates, and which cart lines it covers (categories by path prefix, SKUs). An empty
//! list means no restriction on that dimension.

use super::template::{MAX_SKU_CHARS, check_text};
use crate::earning::DateRange;
use crate::ids::{ChannelId, FormatId, StoreId};
use crate::validation::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use time::Date;
use utoipa::ToSchema;

/// Most entries in any one list.
pub const MAX_ENTRIES: usize = 500;
/// Deepest category path.
pub const MAX_CATEGORY_DEPTH: usize = 8;

/// Restrictions on where a coupon is accepted and what it pays for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Applicability {
    /// Business formats where it is accepted.
    #[serde(default)]
    pub format_ids: BTreeSet<FormatId>,
    /// Stores and merchants where it is accepted.
    #[serde(default)]
    pub store_ids: BTreeSet<StoreId>,
    /// Channels where it is accepted.
    #[serde(default)]
    pub channel_ids: BTreeSet<ChannelId>,
    /// Tier levels (codes) whose members may use it.
    #[serde(default)]
    pub tier_codes: BTreeSet<String>,
    /// Category paths it pays for: a line qualifies when its category path starts with one of
    /// them (`["beauty"]` covers `["beauty", "skincare"]`).
    #[serde(default)]
    pub category_prefixes: Vec<Vec<String>>,
    /// SKUs it pays for. With categories as well, a line qualifies by either.
    #[serde(default)]
    pub skus: BTreeSet<String>,
    /// SKUs it never pays for, whatever their category.
    #[serde(default)]
    pub excluded_skus: BTreeSet<String>,
    /// Business dates (tenant time zone, both ends included) when it is not accepted.
    #[serde(default)]
    pub blackout_dates: Vec<DateRange>,
}

/// Why the place or the person does not qualify.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    Format,
    Store,
    Channel,
    Tier,
    Blackout,
}

/// Where and for whom a cart is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Place<'a> {
    pub format_id: Option<FormatId>,
    pub store_id: Option<StoreId>,
    pub channel_id: Option<ChannelId>,
    pub tier_code: Option<&'a str>,
    pub local_date: Option<Date>,
}

impl Applicability {
    /// The first restriction the place fails, in the order format, store, channel, tier,
    /// blackout. An unknown place fails any restriction on it: a coupon for one store is not
    /// accepted where the store is not named.
    pub fn mismatch(&self, place: &Place<'_>) -> Option<Mismatch> {
        fn fails<T: Ord>(allowed: &BTreeSet<T>, actual: Option<&T>) -> bool {
            !allowed.is_empty() && actual.is_none_or(|value| !allowed.contains(value))
        }
        if fails(&self.format_ids, place.format_id.as_ref()) {
            return Some(Mismatch::Format);
        }
        if fails(&self.store_ids, place.store_id.as_ref()) {
            return Some(Mismatch::Store);
        }
        if fails(&self.channel_ids, place.channel_id.as_ref()) {
            return Some(Mismatch::Channel);
        }
        if !self.tier_codes.is_empty()
            && place
                .tier_code
                .is_none_or(|code| !self.tier_codes.iter().any(|allowed| allowed == code))
        {
            return Some(Mismatch::Tier);
        }
        if let Some(date) = place.local_date
            && self.blackout_dates.iter().any(|range| range.contains(date))
        {
            return Some(Mismatch::Blackout);
        }
        None
    }

    /// Whether a cart line is one the coupon pays for (excluded lines never are).
    pub fn covers(&self, sku: &str, category_path: &[String], excluded: bool) -> bool {
        if excluded || self.excluded_skus.contains(sku) {
            return false;
        }
        if self.skus.is_empty() && self.category_prefixes.is_empty() {
            return true;
        }
        self.skus.contains(sku)
            || self
                .category_prefixes
                .iter()
                .any(|prefix| category_path.starts_with(prefix))
    }

    pub(crate) fn validate(&self, path: &str, errors: &mut FieldErrors) {
        let too_many = |errors: &mut FieldErrors, field: &str, len: usize| {
            if len > MAX_ENTRIES {
                errors.push(FieldError::new(
                    format!("{path}.{field}"),
                    "too_many",
                    format!("at most {MAX_ENTRIES} entries"),
                ));
            }
        };
        too_many(errors, "format_ids", self.format_ids.len());
        too_many(errors, "store_ids", self.store_ids.len());
        too_many(errors, "channel_ids", self.channel_ids.len());
        too_many(errors, "tier_codes", self.tier_codes.len());
        too_many(errors, "category_prefixes", self.category_prefixes.len());
        too_many(errors, "skus", self.skus.len());
        too_many(errors, "excluded_skus", self.excluded_skus.len());
        too_many(errors, "blackout_dates", self.blackout_dates.len());
        for (index, code) in self.tier_codes.iter().enumerate() {
            errors.take(check_text(
                &format!("{path}.tier_codes[{index}]"),
                code,
                MAX_SKU_CHARS,
            ));
        }
        for (index, sku) in self.skus.iter().enumerate() {
            errors.take(check_text(
                &format!("{path}.skus[{index}]"),
                sku,
                MAX_SKU_CHARS,
            ));
        }
        for (index, sku) in self.excluded_skus.iter().enumerate() {
            errors.take(check_text(
                &format!("{path}.excluded_skus[{index}]"),
                sku,
                MAX_SKU_CHARS,
            ));
        }
        for (index, prefix) in self.category_prefixes.iter().enumerate() {
            let at = format!("{path}.category_prefixes[{index}]");
            if prefix.is_empty() || prefix.len() > MAX_CATEGORY_DEPTH {
                errors.push(FieldError::new(
                    at.clone(),
                    "invalid_length",
                    format!("a path of 1 to {MAX_CATEGORY_DEPTH} categories"),
                ));
            }
            for (depth, segment) in prefix.iter().enumerate() {
                errors.take(check_text(
                    &format!("{at}[{depth}]"),
                    segment,
                    MAX_SKU_CHARS,
                ));
            }
        }
        for (index, range) in self.blackout_dates.iter().enumerate() {
            if range.until < range.from {
                errors.push(FieldError::new(
                    format!("{path}.blackout_dates[{index}].until"),
                    "before_start",
                    "must not be before from",
                ));
            }
        }
    }
}
