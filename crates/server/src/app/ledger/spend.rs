//! Spending first-to-expire first, never overdrawing; the shortfall's stable codes.

use super::{Posting, already_posted, append, entry, settle_member};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::ledger::{LedgerAccount, plan_spend};
use huiyuan_store::ledger::{self, Entry, StoredLot};

/// Why a spend was refused.
pub fn insufficient(available: i64) -> ApiError {
    ApiError {
        detail: Some(format!("only {available} points are available")),
        errors: vec![huiyuan_domain::validation::FieldError::new(
            "points",
            "insufficient_points",
            available.to_string(),
        )],
        ..ApiError::new(ErrorCode::Conflict)
    }
}

/// A spend refused for want of points answered with the stable `insufficient_points` code
/// (422) that member-facing redemptions promise, instead of the ledger's generic conflict.
pub fn as_insufficient_points(error: ApiError) -> ApiError {
    if error.errors.iter().any(|e| e.code == "insufficient_points") {
        ApiError {
            code: ErrorCode::InsufficientPoints,
            ..error
        }
    } else {
        error
    }
}

/// Takes `points` from the member's usable lots, first to expire first, into `counter` (a
/// format's redemption account, `adjustment`, …). Never overdraws: the balance update is guarded
/// and refused when too few points are available.
pub async fn spend(
    m: &mut Mutation,
    member: MemberId,
    points: i64,
    kind: &str,
    counter: LedgerAccount,
    posting: &Posting,
) -> ApiResult<Entry> {
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(done);
    }
    if points <= 0 {
        return Err(ApiError::invalid_field(
            "points",
            "out_of_range",
            "must be positive",
        ));
    }
    if !ledger::debit_available(&mut m.session, m.tenant, member, points, 0, m.now).await? {
        let available = ledger::balance(&mut m.session, m.tenant, member)
            .await?
            .available;
        return Err(insufficient(available));
    }
    // The balance row is now ours (PostgreSQL locks it): settle due lots, then draw.
    settle_member(m, member).await?;
    let lots: Vec<_> = ledger::open_lots(&mut m.session, m.tenant, member)
        .await?
        .iter()
        .map(StoredLot::as_lot)
        .collect();
    let draws =
        plan_spend(&lots, points, m.now).map_err(|shortfall| insufficient(shortfall.available))?;
    for draw in &draws {
        if !ledger::draw_lot(&mut m.session, m.tenant, member, draw.lot_id, draw.points).await? {
            return Err(ApiError::internal("a lot changed under a locked balance"));
        }
    }
    let posted = entry(
        member,
        kind,
        points,
        LedgerAccount::MemberAvailable,
        counter,
        posting,
        draws,
        m.now,
    );
    append(m, &posted).await?;
    Ok(posted)
}
