//! Settlement as a service: the tenant's settlement policy and merchants' revenue split rules
//! (defaults until set), computing a period's statement from the ledger, coupon redemptions and
//! mall redemptions ([`compute`]), showing it to each caller only as far as their scope reaches
//! ([`view`]), and its CSV export ([`csv`]).

pub mod compute;
pub mod csv;
pub mod view;

use huiyuan_domain::settlement::{Rate, RevenueSplitRule, SettlementMode, SettlementPolicy};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::settlement::policy::{self, StoredSettlementPolicy, StoredSplitRule};
use huiyuan_store::{Session, StoreResult};
use time::OffsetDateTime;
use uuid::Uuid;

/// The tenant's settlement policy, [`SettlementPolicy::DEFAULT`] until set.
pub async fn policy_of(
    session: &mut Session,
    tenant: huiyuan_domain::ids::TenantId,
) -> StoreResult<SettlementPolicy> {
    Ok(policy::get_policy(session, tenant)
        .await?
        .and_then(|stored| {
            let mode = SettlementMode::parse("mode", &stored.mode).ok()?;
            Some(SettlementPolicy {
                mode,
                settlement_rate: Rate {
                    fen: stored.rate_fen,
                    per_points: stored.rate_per_points,
                },
            })
        })
        .unwrap_or(SettlementPolicy::DEFAULT))
}

pub fn stored_policy(policy: &SettlementPolicy, now: OffsetDateTime) -> StoredSettlementPolicy {
    StoredSettlementPolicy {
        mode: policy.mode.as_str().to_owned(),
        rate_fen: policy.settlement_rate.fen,
        rate_per_points: policy.settlement_rate.per_points,
        updated_at: now,
    }
}

pub fn rule_of(stored: &StoredSplitRule) -> RevenueSplitRule {
    RevenueSplitRule {
        cash_commission_bps: stored.cash_commission_bps,
        points_commission_bps: stored.points_commission_bps,
        points_rate: Rate {
            fen: stored.points_rate_fen,
            per_points: stored.points_rate_per_points,
        },
    }
}

pub fn stored_rule(store: Uuid, rule: &RevenueSplitRule, now: OffsetDateTime) -> StoredSplitRule {
    StoredSplitRule {
        store_id: store,
        cash_commission_bps: rule.cash_commission_bps,
        points_commission_bps: rule.points_commission_bps,
        points_rate_fen: rule.points_rate.fen,
        points_rate_per_points: rule.points_rate.per_points,
        updated_at: now,
    }
}

/// The tenant's points value (what members' points are worth: the liability rate).
pub async fn points_value(
    session: &mut Session,
    tenant: huiyuan_domain::ids::TenantId,
    now: OffsetDateTime,
) -> StoreResult<Rate> {
    let policy = crate::app::ledger::policy::load(session, tenant, now).await?;
    Ok(Rate {
        fen: policy.fen_per_100_points,
        per_points: 100,
    })
}

/// A statement period: `[start, end)`, not ending in the future, at most a year and a bit.
pub fn check_period(
    start: OffsetDateTime,
    end: OffsetDateTime,
    now: OffsetDateTime,
) -> Result<(), huiyuan_domain::validation::FieldErrors> {
    let mut errors = huiyuan_domain::validation::FieldErrors::new();
    if start >= end {
        errors.push(FieldError::new(
            "period_end",
            "before_start",
            "must be after period_start",
        ));
    }
    if end > now {
        errors.push(FieldError::new(
            "period_end",
            "in_future",
            "must not be in the future: events of an open period may still arrive",
        ));
    }
    if end - start > time::Duration::days(400) {
        errors.push(FieldError::new(
            "period_end",
            "too_long",
            "a period spans at most 400 days",
        ));
    }
    errors.finish()
}

#[cfg(test)]
mod tests {
    use super::check_period;
    use time::Duration;
    use time::macros::datetime;

    #[test]
    fn periods_end_after_they_start_not_in_the_future_within_400_days() {
        let now = datetime!(2026-12-05 12:00 UTC);
        assert!(check_period(now - Duration::days(30), now, now).is_ok());
        let codes = |start, end| -> Vec<&'static str> {
            check_period(start, end, now).map_or_else(
                |e| e.0.into_iter().map(|e| e.code).collect(),
                |()| Vec::new(),
            )
        };
        assert_eq!(codes(now, now), ["before_start"]);
        assert_eq!(
            codes(now - Duration::days(1), now + Duration::seconds(1)),
            ["in_future"]
        );
        assert_eq!(codes(now - Duration::days(401), now), ["too_long"]);
    }
}
