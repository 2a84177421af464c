//! How points follow a member merge, and come back when it is undone. The journal only grows:
//! the source's balances are transferred to the survivor by entries on both members (through a
//! `transfer:merge:<id>` transit account that nets to zero), and the source's lots move with them. The
//! transfer-out entries record the lots that moved, so undoing the merge moves exactly those lots
//! back — with what is left in them: points the survivor spent meanwhile stay spent.

use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::{LotId, MemberId};
use huiyuan_domain::ledger::{Draw, LedgerAccount, plan_spend};
use huiyuan_store::ledger::{self, BalanceChange, Entry};
use uuid::Uuid;

/// Posts a transfer of `amount` (either sign) of `account` (one of the member's two) from `from`
/// to `to`, through the `transit` account; `key` names the merge or its undoing.
#[allow(clippy::too_many_arguments)] // one per fact of the transfer; a struct would only rename them
async fn transfer(
    m: &mut Mutation,
    key: &str,
    transit: &LedgerAccount,
    account: &LedgerAccount,
    amount: i64,
    from: MemberId,
    to: MemberId,
    lots: Vec<Draw>,
) -> ApiResult<()> {
    if amount == 0 {
        return Ok(());
    }
    let (account_name, transit_name) = (account.to_string(), transit.to_string());
    let (out_debit, out_credit, in_debit, in_credit) = if amount > 0 {
        (
            account_name.clone(),
            transit_name.clone(),
            transit_name.clone(),
            account_name.clone(),
        )
    } else {
        (
            transit_name.clone(),
            account_name.clone(),
            account_name.clone(),
            transit_name.clone(),
        )
    };
    for (member, kind, debit, credit, draws, side) in [
        (from, "transfer_out", out_debit, out_credit, lots, "out"),
        (to, "transfer_in", in_debit, in_credit, Vec::new(), "in"),
    ] {
        let entry = Entry {
            id: Uuid::now_v7(),
            member_id: member,
            kind: kind.to_owned(),
            amount: amount.abs(),
            debit_account: debit,
            credit_account: credit,
            format_id: None,
            reference: Some(key.to_owned()),
            reason: format!("points moved by {key}"),
            draws,
            natural_key: Some(format!("{key}:{account}:{side}")),
            created_at: m.now,
        };
        if !ledger::insert_entry(&mut m.session, m.tenant, &entry).await? {
            return Err(ApiError::internal("a merge transfer was posted twice"));
        }
    }
    let (available, pending) = if *account == LedgerAccount::MemberAvailable {
        (amount, 0)
    } else {
        (0, amount)
    };
    ledger::credit(
        &mut m.session,
        m.tenant,
        from,
        BalanceChange {
            available: -available,
            pending: -pending,
            ..BalanceChange::default()
        },
        m.now,
    )
    .await?;
    ledger::credit(
        &mut m.session,
        m.tenant,
        to,
        BalanceChange {
            available,
            pending,
            ..BalanceChange::default()
        },
        m.now,
    )
    .await?;
    Ok(())
}

/// Trims released lots down to what the available balance says (an overdraft repaid by points
/// that arrived with a merge), first to expire first.
async fn align_lots(m: &mut Mutation, member: MemberId) -> ApiResult<()> {
    let target = ledger::balance(&mut m.session, m.tenant, member)
        .await?
        .available
        .max(0);
    let lots = ledger::open_lots(&mut m.session, m.tenant, member).await?;
    let held: i64 = lots
        .iter()
        .filter(|lot| !lot.pending)
        .map(|lot| lot.remaining)
        .sum();
    if held <= target {
        return Ok(());
    }
    let mut usable: Vec<_> = lots
        .iter()
        .filter(|lot| !lot.pending)
        .map(|lot| lot.as_lot())
        .collect();
    // Expiry does not matter for the repayment order beyond first-to-expire: treat all as usable.
    for lot in &mut usable {
        lot.expires_at = None;
        lot.available_at = m.now;
    }
    let draws = plan_spend(&usable, held - target, m.now)
        .map_err(|_| ApiError::internal("lots shorter than they sum"))?;
    for draw in draws {
        ledger::draw_lot(&mut m.session, m.tenant, member, draw.lot_id, draw.points).await?;
    }
    Ok(())
}

/// Moves the source's points and lots to the survivor.
pub async fn merge_points(
    m: &mut Mutation,
    merge_id: Uuid,
    source: MemberId,
    survivor: MemberId,
) -> ApiResult<()> {
    let balance = ledger::balance(&mut m.session, m.tenant, source).await?;
    let lots = ledger::open_lots(&mut m.session, m.tenant, source).await?;
    let ids: Vec<LotId> = lots.iter().map(|lot| lot.id).collect();
    ledger::move_lots(&mut m.session, m.tenant, source, survivor, &ids).await?;
    let draws = |pending: bool| {
        lots.iter()
            .filter(|lot| lot.pending == pending)
            .map(|lot| Draw {
                lot_id: lot.id,
                points: lot.remaining,
            })
            .collect::<Vec<_>>()
    };
    let key = format!("merge:{merge_id}");
    let transit = LedgerAccount::MergeTransit(merge_id);
    ledger::ensure_balance(&mut m.session, m.tenant, survivor, m.now).await?;
    transfer(
        m,
        &key,
        &transit,
        &LedgerAccount::MemberAvailable,
        balance.available,
        source,
        survivor,
        draws(false),
    )
    .await?;
    transfer(
        m,
        &key,
        &transit,
        &LedgerAccount::MemberPending,
        balance.pending,
        source,
        survivor,
        draws(true),
    )
    .await?;
    align_lots(m, survivor).await
}

/// Moves back what is left of the lots the merge moved, with their points.
pub async fn unmerge_points(
    m: &mut Mutation,
    merge_id: Uuid,
    source: MemberId,
    survivor: MemberId,
) -> ApiResult<()> {
    let key = format!("merge:{merge_id}");
    let mut moved = Vec::new();
    for account in [LedgerAccount::MemberAvailable, LedgerAccount::MemberPending] {
        if let Some(entry) =
            ledger::entry_by_natural_key(&mut m.session, m.tenant, &format!("{key}:{account}:out"))
                .await?
        {
            moved.extend(entry.draws.iter().map(|draw| draw.lot_id));
        }
    }
    let lots: Vec<_> = ledger::open_lots(&mut m.session, m.tenant, survivor)
        .await?
        .into_iter()
        .filter(|lot| moved.contains(&lot.id))
        .collect();
    let ids: Vec<LotId> = lots.iter().map(|lot| lot.id).collect();
    ledger::move_lots(&mut m.session, m.tenant, survivor, source, &ids).await?;
    let sum = |pending: bool| {
        lots.iter()
            .filter(|lot| lot.pending == pending)
            .map(|lot| lot.remaining)
            .sum::<i64>()
    };
    let draws = |pending: bool| {
        lots.iter()
            .filter(|lot| lot.pending == pending)
            .map(|lot| Draw {
                lot_id: lot.id,
                points: lot.remaining,
            })
            .collect::<Vec<_>>()
    };
    let back = format!("un{key}");
    let transit = LedgerAccount::UnmergeTransit(merge_id);
    transfer(
        m,
        &back,
        &transit,
        &LedgerAccount::MemberAvailable,
        sum(false),
        survivor,
        source,
        draws(false),
    )
    .await?;
    transfer(
        m,
        &back,
        &transit,
        &LedgerAccount::MemberPending,
        sum(true),
        survivor,
        source,
        draws(true),
    )
    .await?;
    align_lots(m, survivor).await
}
