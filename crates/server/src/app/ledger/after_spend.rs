//! What can happen to a spend afterwards: undone into the lots it drew, attributed to the
//! formats that issued its points, or (held points) moved on to the account that claims them.

use super::{Posting, already_posted, append, entry, settle_member, stored_account};
use crate::app::error::ApiResult;
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::{LotId, MemberId};
use huiyuan_domain::ledger::{Draw, LedgerAccount};
use huiyuan_store::ledger::{self, BalanceChange, Entry, StoredLot};
use uuid::Uuid;

/// Undoes a spend (a cancelled mall redemption): `spend.amount` points come back from the account
/// the spend credited, into the lots they were drawn from, so they keep their original expiry —
/// points whose lot has expired meanwhile expire again at once, in the same transaction. A lot
/// no longer the member's (a merge undone since) gets a new lot with the original's expiry.
/// Points owed from an overdraft are repaid first, as with any credit. Posted once per
/// `posting.natural_key`.
pub async fn reverse_spend(
    m: &mut Mutation,
    member: MemberId,
    spend: &Entry,
    posting: &Posting,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Entry> {
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(done);
    }
    // The account the spend credited gives the points back; read before anything is written.
    let from = stored_account(&spend.credit_account)?;
    let entry_id = Uuid::now_v7();
    let available = ledger::balance(&mut m.session, m.tenant, member)
        .await?
        .available;
    let mut owed = (-available).max(0).min(spend.amount);
    let lot_ids: Vec<LotId> = spend.draws.iter().map(|draw| draw.lot_id).collect();
    let originals = ledger::lots_by_ids(&mut m.session, m.tenant, &lot_ids).await?;
    let fallback_expiry = super::policy::load(&mut m.session, m.tenant, m.now)
        .await?
        .expiry
        .expires_at(m.now, tz);
    let (mut restored, mut new_lots) = (Vec::new(), Vec::new());
    for draw in &spend.draws {
        let repaid = owed.min(draw.points);
        owed -= repaid;
        let points = draw.points - repaid;
        if points == 0 {
            continue;
        }
        if ledger::restore_lot(&mut m.session, m.tenant, member, draw.lot_id, points).await? {
            restored.push(Draw {
                lot_id: draw.lot_id,
                points,
            });
            continue;
        }
        let original = originals.iter().find(|lot| lot.id == draw.lot_id);
        let lot = StoredLot {
            id: LotId::new(),
            member_id: member,
            entry_id,
            format_id: original.map_or(posting.format_id, |lot| lot.format_id),
            earned_at: m.now,
            available_at: m.now,
            expires_at: original.map_or(fallback_expiry, |lot| lot.expires_at),
            pending: false,
            original: points,
            remaining: points,
        };
        restored.push(Draw {
            lot_id: lot.id,
            points,
        });
        new_lots.push(lot);
    }
    let mut posted = entry(
        member,
        "reversal",
        spend.amount,
        from,
        LedgerAccount::MemberAvailable,
        posting,
        restored,
        m.now,
    );
    posted.id = entry_id;
    append(m, &posted).await?;
    for lot in &new_lots {
        ledger::insert_lot(&mut m.session, m.tenant, lot).await?;
    }
    let change = BalanceChange {
        available: spend.amount,
        ..BalanceChange::default()
    };
    ledger::credit(&mut m.session, m.tenant, member, change, m.now).await?;
    settle_member(m, member).await?;
    Ok(posted)
}

/// Which formats issued the points a spend drew (for inter-format claims), by the lots drawn.
pub async fn issuing_formats(
    m: &mut Mutation,
    entry: &Entry,
) -> ApiResult<Vec<huiyuan_store::mall::PointsSource>> {
    let ids: Vec<LotId> = entry.draws.iter().map(|draw| draw.lot_id).collect();
    let lots = ledger::lots_by_ids(&mut m.session, m.tenant, &ids).await?;
    let mut by_format: std::collections::BTreeMap<Option<Uuid>, i64> = Default::default();
    for draw in &entry.draws {
        let format = lots
            .iter()
            .find(|lot| lot.id == draw.lot_id)
            .and_then(|lot| lot.format_id);
        *by_format.entry(format).or_default() += draw.points;
    }
    Ok(by_format
        .into_iter()
        .map(|(format_id, points)| huiyuan_store::mall::PointsSource { format_id, points })
        .collect())
}

/// Moves points parked by `held` (a spend into a holding account) on to `to`, keeping the
/// draws so the lots — and so the issuing formats — stay traceable. Member balances do not
/// change. Posted once per `posting.natural_key`.
pub async fn move_held(
    m: &mut Mutation,
    member: MemberId,
    held: &Entry,
    kind: &str,
    to: LedgerAccount,
    posting: &Posting,
) -> ApiResult<Entry> {
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(done);
    }
    let posted = entry(
        member,
        kind,
        held.amount,
        stored_account(&held.credit_account)?,
        to,
        posting,
        held.draws.clone(),
        m.now,
    );
    append(m, &posted).await?;
    Ok(posted)
}
