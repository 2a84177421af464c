//! The points ledger as a service: earning into a lot (pending for a return window when the
//! policy says so), spending first-to-expire first, expiring and releasing due lots, manual
//! adjustments. Every function runs inside the caller's open [`Mutation`], so a business event,
//! its entries and its audit record commit together or not at all.
//!
//! Invariant kept here and checked by `verify`: a member's available balance equals the sum of
//! their entries into and out of `member.available`, and (while not overdrawn) the points left in
//! their released, unexpired lots.

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::mutation::Mutation;
use huiyuan_domain::ids::TenantId;
use huiyuan_domain::ledger::{Draw, ExpiryPolicy, plan_spend};
use huiyuan_store::ledger::{
    self, BalanceChange, Entry, MEMBER_AVAILABLE, MEMBER_PENDING, StoredLot, StoredPolicy,
};
use huiyuan_store::{Session, StoreResult, tenants};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// The policy a tenant gets until it sets its own: points of year Y expire at the end of Y+1,
/// no return window, 100 points are worth ¥1, no overdraft.
pub fn default_policy(now: OffsetDateTime) -> StoredPolicy {
    StoredPolicy {
        expiry: ExpiryPolicy::YearEnd { years: 1 },
        pending_days: 0,
        fen_per_100_points: 100,
        overdraft_limit: 0,
        updated_at: now,
    }
}

pub async fn policy(
    session: &mut Session,
    tenant: TenantId,
    now: OffsetDateTime,
) -> StoreResult<StoredPolicy> {
    Ok(ledger::policy(session, tenant)
        .await?
        .unwrap_or_else(|| default_policy(now)))
}

/// The counter account of manual adjustments.
pub const ADJUSTMENT: &str = "adjustment";

/// The account a format's issued points are owed from.
pub fn issuance_account(format: Option<Uuid>) -> String {
    format.map_or_else(|| "issuance:group".to_owned(), |f| format!("issuance:{f}"))
}

/// The account redeemed points are claimed by.
pub fn redemption_account(format: Option<Uuid>) -> String {
    format.map_or_else(
        || "redemption:group".to_owned(),
        |f| format!("redemption:{f}"),
    )
}

/// What a posting is about.
#[derive(Clone, Debug, Default)]
pub struct Posting {
    pub format_id: Option<Uuid>,
    pub reference: Option<String>,
    pub reason: String,
    /// The business event's unique key (e.g. `order:<id>:earn`); a second posting with the same
    /// key is recognised and not applied again.
    pub natural_key: Option<String>,
}

#[allow(clippy::too_many_arguments)] // one field per fact of the entry; a builder would only rename them
fn entry(
    member: Uuid,
    kind: &str,
    amount: i64,
    debit: String,
    credit: String,
    posting: &Posting,
    draws: Vec<Draw>,
    now: OffsetDateTime,
) -> Entry {
    Entry {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        amount,
        debit_account: debit,
        credit_account: credit,
        format_id: posting.format_id,
        reference: posting.reference.clone(),
        reason: posting.reason.clone(),
        draws,
        natural_key: posting.natural_key.clone(),
        created_at: now,
    }
}

/// An entry already posted under the posting's natural key.
async fn already_posted(m: &mut Mutation, posting: &Posting) -> ApiResult<Option<Entry>> {
    match &posting.natural_key {
        Some(key) => Ok(ledger::entry_by_natural_key(&mut m.session, m.tenant, key).await?),
        None => Ok(None),
    }
}

/// Appends the entry; a concurrent twin under the same natural key makes the whole change roll
/// back (the caller's retry then finds the twin).
async fn append(m: &mut Mutation, entry: &Entry) -> ApiResult<()> {
    if ledger::insert_entry(&mut m.session, m.tenant, entry).await? {
        Ok(())
    } else {
        Err(ApiError::with_detail(
            ErrorCode::Conflict,
            "the same posting is being applied concurrently; retry",
        ))
    }
}

/// Credits `points` to the member as a new lot, pending until the policy's return window ends;
/// `counter` is the account they come from (a format's issuance, `adjustment`, …).
#[allow(clippy::too_many_arguments)] // each is a distinct fact of the posting
pub async fn earn(
    m: &mut Mutation,
    member: Uuid,
    points: i64,
    tier_points: i64,
    kind: &str,
    counter: String,
    posting: &Posting,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Entry> {
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(done);
    }
    let policy = policy(&mut m.session, m.tenant, m.now).await?;
    ledger::ensure_balance(&mut m.session, m.tenant, member, m.now).await?;
    let available = if policy.pending_days > 0 {
        0
    } else {
        ledger::balance(&mut m.session, m.tenant, member)
            .await?
            .available
    };
    earn_new(
        m,
        member,
        points,
        tier_points,
        kind,
        counter,
        posting,
        tz,
        &policy,
        available,
    )
    .await
}

/// [`earn`] for a posting known to be new (its natural key belongs to a record created in this
/// transaction), with the tenant's `policy` and the member's `available` balance already at hand
/// (read under the balance row's lock, e.g. [`ledger::lock_active_balance`]). A twin posting under
/// the same natural key still fails the insert and rolls the change back.
#[allow(clippy::too_many_arguments)] // each is a distinct fact of the posting
pub async fn earn_new(
    m: &mut Mutation,
    member: Uuid,
    points: i64,
    tier_points: i64,
    kind: &str,
    counter: String,
    posting: &Posting,
    tz: &jiff::tz::TimeZone,
    policy: &StoredPolicy,
    available: i64,
) -> ApiResult<Entry> {
    if points <= 0 {
        return Err(ApiError::invalid_field(
            "points",
            "out_of_range",
            "must be positive",
        ));
    }
    let available_at = m.now + Duration::days(policy.pending_days);
    let pending = available_at > m.now;
    let lot_id = Uuid::now_v7();
    let credit = if pending {
        MEMBER_PENDING
    } else {
        MEMBER_AVAILABLE
    };
    let posted = entry(
        member,
        kind,
        points,
        counter,
        credit.to_owned(),
        posting,
        vec![Draw { lot_id, points }],
        m.now,
    );
    append(m, &posted).await?;
    // Points owed from an overdraft are repaid from the new lot first.
    let owed = if pending {
        0
    } else {
        (-available).max(0).min(points)
    };
    let lot = StoredLot {
        id: lot_id,
        member_id: member,
        entry_id: posted.id,
        format_id: posting.format_id,
        earned_at: m.now,
        available_at,
        expires_at: policy.expiry.expires_at(m.now, tz),
        pending,
        original: points,
        remaining: points - owed,
    };
    ledger::insert_lot(&mut m.session, m.tenant, &lot).await?;
    let change = if pending {
        BalanceChange {
            pending: points,
            tier_points,
            earned: points,
            ..BalanceChange::default()
        }
    } else {
        BalanceChange {
            available: points,
            tier_points,
            earned: points,
            ..BalanceChange::default()
        }
    };
    // The row exists: created (and on PostgreSQL locked) before the balance was read.
    ledger::add_to_balance(&mut m.session, m.tenant, member, change, m.now).await?;
    Ok(posted)
}

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
    member: Uuid,
    points: i64,
    kind: &str,
    counter: String,
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
        MEMBER_AVAILABLE.to_owned(),
        counter,
        posting,
        draws,
        m.now,
    );
    append(m, &posted).await?;
    Ok(posted)
}

/// Releases the member's pending lots whose window has passed and expires lots whose time has
/// come; returns (released, expired) points. Idempotent: each lot is settled once.
pub async fn settle_member(m: &mut Mutation, member: Uuid) -> ApiResult<(i64, i64)> {
    let (mut released, mut expired) = (0, 0);
    for lot in ledger::open_lots(&mut m.session, m.tenant, member).await? {
        let posting = Posting {
            format_id: lot.format_id,
            reference: Some(format!("lot:{}", lot.id)),
            ..Posting::default()
        };
        if lot.pending && lot.available_at <= m.now && lot.expires_at.is_none_or(|e| e > m.now) {
            if ledger::mark_released(&mut m.session, m.tenant, member, lot.id).await?
                && ledger::release_pending(&mut m.session, m.tenant, member, lot.remaining, m.now)
                    .await?
            {
                // Points owed from an overdraft are repaid from the released lot first, as
                // from a new lot in `earn`.
                let after = ledger::balance(&mut m.session, m.tenant, member)
                    .await?
                    .available;
                let owed = (lot.remaining - after).max(0).min(lot.remaining);
                if owed > 0
                    && !ledger::draw_lot(&mut m.session, m.tenant, member, lot.id, owed).await?
                {
                    return Err(ApiError::internal(
                        "a released lot changed under its balance",
                    ));
                }
                let posting = Posting {
                    reason: "return window ended".to_owned(),
                    ..posting
                };
                let draws = vec![Draw {
                    lot_id: lot.id,
                    points: lot.remaining,
                }];
                append(
                    m,
                    &entry(
                        member,
                        "release",
                        lot.remaining,
                        MEMBER_PENDING.to_owned(),
                        MEMBER_AVAILABLE.to_owned(),
                        &posting,
                        draws,
                        m.now,
                    ),
                )
                .await?;
                released += lot.remaining;
            }
        } else if lot.expires_at.is_some_and(|e| e <= m.now)
            && ledger::draw_lot(&mut m.session, m.tenant, member, lot.id, lot.remaining).await?
        {
            let account = if lot.pending {
                MEMBER_PENDING
            } else {
                MEMBER_AVAILABLE
            };
            let debited = if lot.pending {
                ledger::debit_pending(&mut m.session, m.tenant, member, lot.remaining, m.now)
                    .await?
            } else {
                ledger::debit_available(
                    &mut m.session,
                    m.tenant,
                    member,
                    lot.remaining,
                    i64::MIN,
                    m.now,
                )
                .await?
            };
            if !debited {
                return Err(ApiError::internal("balance below an expiring lot"));
            }
            let posting = Posting {
                reason: "points expired".to_owned(),
                ..posting
            };
            let draws = vec![Draw {
                lot_id: lot.id,
                points: lot.remaining,
            }];
            append(
                m,
                &entry(
                    member,
                    "expire",
                    lot.remaining,
                    account.to_owned(),
                    "expiry".to_owned(),
                    &posting,
                    draws,
                    m.now,
                ),
            )
            .await?;
            expired += lot.remaining;
        }
    }
    Ok((released, expired))
}

/// A manual adjustment: positive amounts are granted as a new lot, negative ones spent (never
/// below zero). Reason required.
pub async fn adjust(
    m: &mut Mutation,
    member: Uuid,
    delta: i64,
    reason: &str,
    natural_key: Option<String>,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Entry> {
    let posting = Posting {
        format_id: None,
        reference: None,
        reason: reason.to_owned(),
        natural_key,
    };
    if delta > 0 {
        earn(
            m,
            member,
            delta,
            0,
            "adjust",
            ADJUSTMENT.to_owned(),
            &posting,
            tz,
        )
        .await
    } else {
        spend(m, member, -delta, "adjust", ADJUSTMENT.to_owned(), &posting).await
    }
}

/// The tenant's time zone (for expiry dates).
pub async fn tenant_zone(session: &mut Session, tenant: TenantId) -> ApiResult<jiff::tz::TimeZone> {
    let zone = tenants::get(session, tenant)
        .await?
        .map(|t| t.time_zone.as_str().to_owned())
        .unwrap_or_else(|| "Asia/Shanghai".to_owned());
    jiff::tz::TimeZone::get(&zone).map_err(ApiError::internal)
}

/// What `huiyuan verify` found.
#[derive(Debug, Default)]
pub struct VerifyReport {
    pub tenants: usize,
    pub members_checked: usize,
    pub discrepancies: Vec<(TenantId, ledger::Discrepancy)>,
}

/// Checks every member of every tenant: balances equal the sums of their entries, and the lots
/// hold what the balances say. Entries balance by construction (each moves one amount from one
/// account to another), so the books over all accounts sum to zero.
pub async fn verify_all(store: &huiyuan_store::Store) -> ApiResult<VerifyReport> {
    let mut report = VerifyReport::default();
    let mut session = store.read().await?;
    for tenant in tenants::list(&mut session, 100_000).await? {
        report.tenants += 1;
        let mut after = None;
        loop {
            let members = ledger::balance_members(&mut session, tenant.id, after, 1_000).await?;
            let Some(last) = members.last().copied() else {
                break;
            };
            for member in members {
                report.members_checked += 1;
                for discrepancy in ledger::verify_member(&mut session, tenant.id, member).await? {
                    report.discrepancies.push((tenant.id, discrepancy));
                }
            }
            after = Some(last);
        }
    }
    Ok(report)
}

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
    member: Uuid,
    points: i64,
    own_lot: Option<Uuid>,
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
                MEMBER_PENDING.to_owned(),
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
        let limit = policy(&mut m.session, m.tenant, m.now)
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
            MEMBER_AVAILABLE.to_owned(),
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

/// The member profile's `points` summary: balances, and the lifetime earned.
pub fn points_section<'a>(
    session: &'a mut Session,
    tenant: TenantId,
    member: Uuid,
) -> crate::identity::sections::SectionFuture<'a> {
    Box::pin(async move {
        let balance = ledger::balance(session, tenant, member).await?;
        Ok(Some(serde_json::json!({
            "available": balance.available,
            "pending": balance.pending,
            "tier_points": balance.tier_points,
            "lifetime_earned": balance.lifetime_earned,
        })))
    })
}

/// The account donated points go to (公益捐赠), per format like the redemption accounts.
pub fn donation_account(format: Option<Uuid>) -> String {
    format.map_or_else(|| "donation:group".to_owned(), |f| format!("donation:{f}"))
}

/// Undoes a spend (a cancelled mall redemption): `spend.amount` points come back from the account
/// the spend credited, into the lots they were drawn from, so they keep their original expiry —
/// points whose lot has expired meanwhile expire again at once, in the same transaction. A lot
/// no longer the member's (a merge undone since) gets a new lot with the original's expiry.
/// Points owed from an overdraft are repaid first, as with any credit. Posted once per
/// `posting.natural_key`.
pub async fn reverse_spend(
    m: &mut Mutation,
    member: Uuid,
    spend: &Entry,
    posting: &Posting,
    tz: &jiff::tz::TimeZone,
) -> ApiResult<Entry> {
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(done);
    }
    let entry_id = Uuid::now_v7();
    let available = ledger::balance(&mut m.session, m.tenant, member)
        .await?
        .available;
    let mut owed = (-available).max(0).min(spend.amount);
    let lot_ids: Vec<Uuid> = spend.draws.iter().map(|draw| draw.lot_id).collect();
    let originals = ledger::lots_by_ids(&mut m.session, m.tenant, &lot_ids).await?;
    let fallback_expiry = policy(&mut m.session, m.tenant, m.now)
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
            id: Uuid::now_v7(),
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
        spend.credit_account.clone(),
        MEMBER_AVAILABLE.to_owned(),
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
    let ids: Vec<Uuid> = entry.draws.iter().map(|draw| draw.lot_id).collect();
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

/// The account points sit in while a checkout holds them: spent from the member (so they can
/// not be spent twice), not yet claimed by any format.
pub const CHECKOUT_HOLD: &str = "checkout_hold";

/// Moves points parked by `held` (a spend into a holding account) on to `to`, keeping the
/// draws so the lots — and so the issuing formats — stay traceable. Member balances do not
/// change. Posted once per `posting.natural_key`.
pub async fn move_held(
    m: &mut Mutation,
    member: Uuid,
    held: &Entry,
    kind: &str,
    to: String,
    posting: &Posting,
) -> ApiResult<Entry> {
    if let Some(done) = already_posted(m, posting).await? {
        return Ok(done);
    }
    let posted = entry(
        member,
        kind,
        held.amount,
        held.credit_account.clone(),
        to,
        posting,
        held.draws.clone(),
        m.now,
    );
    append(m, &posted).await?;
    Ok(posted)
}
