//! Claw-backs on refunds: the refunded order's own lot first, then other lots, then overdraft.

use super::{Posting, already_posted, append, entry, issuance_account, settle_member};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::{LotId, MemberId};
use huiyuan_domain::ledger::{Draw, LedgerAccount, plan_spend};
use huiyuan_store::ledger::{self, BalanceChange, Entry, StoredLot};

/// What a claw-back took back and how.
#[derive(Clone, Debug, Default)]
pub struct Clawback {
    /// The entries posted: one from the pending balance, one from the available balance (either
    /// may be absent).
    pub entries: Vec<Entry>,
    /// Points taken back in all.
    pub reversed: i64,
    /// Points owed that could not be taken: already spent, beyond the overdraft allowance.
    pub unrecovered: i64,
    /// In words, what happened: which lots, how much as overdraft, how much unrecovered.
    pub explanation: String,
}

/// Takes `points` back from a member (a refund): first from `own_lot` — the lot the refunded
/// order created — if it still holds points (pending points are reversed from the pending
/// balance), then from the member's other usable lots, first to expire first, and when those run
/// out, as an overdraft down to minus the tenant's `overdraft_limit`. Whatever even the overdraft
/// cannot cover is not taken and is reported as `unrecovered`. The points go back to
/// `issuance_account(posting.format_id)`; each entry's reason is `posting.reason` followed by the
/// explanation. Tier points are reduced by the full `points` (the purchase is undone whatever
/// happened to the points).
pub async fn clawback(
    m: &mut Mutation,
    member: MemberId,
    points: i64,
    own_lot: Option<LotId>,
    posting: &Posting,
) -> ApiResult<Clawback> {
    if points <= 0 {
        return Ok(Clawback {
            explanation: "nothing to take back".to_owned(),
            ..Clawback::default()
        });
    }
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(Clawback {
            reversed: done.amount,
            explanation: done.reason.clone(),
            entries: vec![done],
            unrecovered: 0,
        });
    }
    // A member whose points all moved away (a merge) may have no balance row to overdraw.
    ledger::ensure_balance(&mut m.session, m.tenant, member, m.now).await?;
    // Due lots first, so an expired lot is not drawn and a released one counts as available.
    settle_member(m, member).await?;
    let counter = issuance_account(posting.format_id);
    let lots = ledger::open_lots(&mut m.session, m.tenant, member).await?;
    let mut left = points;
    let mut notes = Vec::new();
    let mut result = Clawback::default();

    // 1. The order's own lot, pending or released.
    let own = own_lot
        .and_then(|id| lots.iter().find(|lot| lot.id == id))
        .filter(|lot| lot.remaining > 0);
    let mut available_draws = Vec::new();
    if let Some(lot) = own {
        let take = left.min(lot.remaining);
        if !ledger::draw_lot(&mut m.session, m.tenant, member, lot.id, take).await? {
            return Err(ApiError::internal(
                "the order's lot changed under the claw-back",
            ));
        }
        if lot.pending {
            if !ledger::debit_pending(&mut m.session, m.tenant, member, take, m.now).await? {
                return Err(ApiError::internal("pending balance below a pending lot"));
            }
            notes.push(format!("{take} from the order's pending points"));
            let key = posting
                .natural_key
                .as_ref()
                .map(|key| format!("{key}:pending"));
            let pending_posting = Posting {
                natural_key: key,
                ..posting.clone()
            };
            let draws = vec![Draw {
                lot_id: lot.id,
                points: take,
            }];
            let mut posted = entry(
                member,
                "clawback",
                take,
                LedgerAccount::MemberPending,
                counter.clone(),
                &pending_posting,
                draws,
                m.now,
            );
            posted.reason = format!("{}: {take} from the order's pending points", posting.reason);
            append(m, &posted).await?;
            result.entries.push(posted);
        } else {
            if !ledger::debit_available(&mut m.session, m.tenant, member, take, 0, m.now).await? {
                return Err(ApiError::internal("available balance below a released lot"));
            }
            notes.push(format!("{take} from the order's own points"));
            available_draws.push(Draw {
                lot_id: lot.id,
                points: take,
            });
        }
        left -= take;
        result.reversed += take;
    }

    // 2. Other usable lots, first to expire first.
    let mut from_available = available_draws.iter().map(|d| d.points).sum::<i64>();
    if left > 0 {
        let others: Vec<_> = lots
            .iter()
            .filter(|lot| Some(lot.id) != own.map(|o| o.id))
            .map(StoredLot::as_lot)
            .collect();
        let usable: i64 = others
            .iter()
            .filter(|lot| lot.usable_at(m.now))
            .map(|lot| lot.remaining)
            .sum();
        let balance = ledger::balance(&mut m.session, m.tenant, member)
            .await?
            .available;
        let take = left.min(usable).min(balance.max(0));
        if take > 0 {
            let draws = plan_spend(&others, take, m.now)
                .map_err(|_| ApiError::internal("usable lots changed under the claw-back"))?;
            if !ledger::debit_available(&mut m.session, m.tenant, member, take, 0, m.now).await? {
                return Err(ApiError::internal(
                    "available balance below its usable lots",
                ));
            }
            for draw in &draws {
                if !ledger::draw_lot(&mut m.session, m.tenant, member, draw.lot_id, draw.points)
                    .await?
                {
                    return Err(ApiError::internal("a lot changed under a locked balance"));
                }
            }
            notes.push(format!(
                "{take} from other points (the order's points were already spent)"
            ));
            available_draws.extend(draws);
            left -= take;
            from_available += take;
            result.reversed += take;
        }
    }

    // 3. The overdraft the tenant allows.
    if left > 0 {
        let limit = super::policy::load(&mut m.session, m.tenant, m.now)
            .await?
            .overdraft_limit
            .max(0);
        let balance = ledger::balance(&mut m.session, m.tenant, member)
            .await?
            .available;
        let room = balance.saturating_add(limit).max(0);
        let take = left.min(room);
        if take > 0 {
            if !ledger::debit_available(&mut m.session, m.tenant, member, take, -limit, m.now)
                .await?
            {
                return Err(ApiError::internal(
                    "the overdraft room changed under a locked balance",
                ));
            }
            notes.push(format!(
                "{take} as a negative balance (overdraft allowed down to -{limit})"
            ));
            left -= take;
            from_available += take;
            result.reversed += take;
        }
        if left > 0 {
            notes.push(format!(
                "{left} not recovered: already spent and beyond the overdraft allowance of {limit}"
            ));
            result.unrecovered = left;
        }
    }

    if from_available > 0 {
        let mut posted = entry(
            member,
            "clawback",
            from_available,
            LedgerAccount::MemberAvailable,
            counter,
            posting,
            available_draws,
            m.now,
        );
        let available_notes: Vec<&String> = notes
            .iter()
            .filter(|note| !note.contains("pending points") && !note.contains("not recovered"))
            .collect();
        posted.reason = format!(
            "{}: {}",
            posting.reason,
            available_notes
                .iter()
                .map(|n| n.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        );
        append(m, &posted).await?;
        result.entries.push(posted);
    }
    let change = BalanceChange {
        tier_points: -points,
        ..BalanceChange::default()
    };
    ledger::credit(&mut m.session, m.tenant, member, change, m.now).await?;
    result.explanation = notes.join("; ");
    Ok(result)
}
