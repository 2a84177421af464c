//! Tier engine tests: ladder validation and wire format, window math, decision scenarios with a
//! 普通/银卡/金卡/钻石 ladder, and properties over arbitrary ladders.

mod decisions;
mod ladder;
mod overrides;
mod properties;
mod window;

use super::*;
use jiff::tz::TimeZone;
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub(super) fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").unwrap()
}

fn level(code: &str, name: &str, threshold: i64, retention: i64, benefits: Benefits) -> TierLevel {
    TierLevel {
        code: code.into(),
        name: name.into(),
        threshold,
        retention,
        benefits,
    }
}

fn benefits(multiplier: u32, discount: u32) -> Benefits {
    Benefits {
        earning_multiplier_permille: multiplier,
        discount_permille: discount,
        ..Benefits::default()
    }
}

/// 普通 0 · 银卡 1000 (keep with 600) · 金卡 5000 (3000) · 钻石 20000 (12000) tier points over a
/// rolling 365 days, evaluated one window after each change.
pub(super) fn ladder() -> TierLadder {
    let mut gold = benefits(1500, 950);
    gold.birthday_gift = Some("生日蛋糕券".into());
    gold.per_format.insert(
        "mall".into(),
        FormatBenefits {
            parking_hours: 3,
            ..FormatBenefits::default()
        },
    );
    let mut diamond = benefits(2000, 900);
    diamond.birthday_gift = Some("生日礼盒".into());
    diamond.per_format.insert(
        "mall".into(),
        FormatBenefits {
            parking_hours: 8,
            extras: BTreeMap::from([("vip_lane".into(), "VIP通道".into())]),
            ..FormatBenefits::default()
        },
    );
    diamond.per_format.insert(
        "hotel".into(),
        FormatBenefits {
            earning_multiplier_permille: Some(3000),
            discount_permille: Some(850),
            extras: BTreeMap::from([("room_upgrade".into(), "免费升级房型".into())]),
            ..FormatBenefits::default()
        },
    );
    TierLadder {
        basis: Basis::TierPoints,
        window: Window::RollingDays { days: 365 },
        evaluation: Evaluation::WindowEnd,
        levels: vec![
            level("normal", "普通", 0, 0, Benefits::default()),
            level("silver", "银卡", 1000, 600, benefits(1200, 980)),
            level("gold", "金卡", 5000, 3000, gold),
            level("diamond", "钻石", 20000, 12000, diamond),
        ],
    }
}

/// The same levels on spend in fen over the calendar year.
pub(super) fn calendar_ladder() -> TierLadder {
    TierLadder {
        basis: Basis::SpendFen,
        window: Window::CalendarYear,
        ..ladder()
    }
}

/// Sums the amounts that occurred in `[from, to]`, as the store does for a qualifying total.
pub(super) fn total(
    amounts: &[(OffsetDateTime, i64)],
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> i64 {
    amounts
        .iter()
        .filter(|(at, _)| (from..=to).contains(at))
        .map(|(_, amount)| amount)
        .sum()
}

/// Applies a change that must exist, returning the new state.
pub(super) fn applied(state: &TierState, change: Option<TierChange>) -> (TierState, TierChange) {
    let change = change.expect("a change");
    (state.apply(&change), change)
}
