//! Posting an order: idempotent on the channel and its own order id.
//!
//! The work is split so the write transaction stays short (SQLite has one writer; every statement
//! inside the transaction holds it): [`prepare`] looks up everything that may be read before the
//! transaction on the read pool or in the configuration cache, and [`ingest`] does only the writes
//! and the reads that must be atomic with them.
//!
//! Why each read before the transaction is safe:
//! - channel, store, format, earning rules, points policy, tier ladder, time zone, referral
//!   reward: configuration (see [`crate::app::config_cache`] for its staleness bound); an order racing
//!   a configuration change is evaluated as if it came just before the change.
//! - no existing-order check for a member that resolves: the insert is guarded by the (channel,
//!   external id) key, and a retry or a twin is found and answered in the transaction. When the
//!   member no longer resolves (an expired member code on a retry), an order already posted is
//!   looked up and answered before the error would be.
//! - the member (past merges, active): re-checked in the transaction by the guarded statement
//!   that locks the member's balance row ([`huiyuan_store::ledger::lock_active_balance`]); a
//!   member merged or deactivated since makes the order answer 409 and the retry resolves anew.
//! - the member's tier state (for tier conditions and multipliers): harmless if stale; an order
//!   racing an upgrade earns at the level the member had a moment before, as it would have had
//!   it come a moment earlier. The upgrade decision itself (qualifying total, versioned state
//!   update) runs in the transaction.
//! - who referred the member: set at registration, never changed.
//!
//! Inside the transaction: the order's insert (the natural key), the balance lock, the rule
//! counters for capped rules (read after the lock, so caps hold under concurrency; on SQLite in
//! the same call as the insert and the lock, see [`huiyuan_store::order_intake`]), the ledger
//! entry, lot and balance, the counters, the referral and tier updates and the audit entry.

use super::COMPLETED;
use super::input::OrderInput;
use super::origin::{order_member, origin};
use super::parse::ParsedOrder;
use super::views::{OrderView, assemble_view, order_view};
use crate::app::config_cache::TenantConfig;
use crate::app::earning::accrual::{
    CounterRead, Earner, TierEarning, accrue_order, counter_reads, format_code, member_changed,
    member_tier,
};
use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use crate::app::state::AppState;
use huiyuan_domain::auth::Principal;
use huiyuan_domain::ids::OrderId;
use huiyuan_store::members::StoredMember;
use huiyuan_store::order_intake::{Intake, RuleWindow, insert_order_locking};
use huiyuan_store::orders::{self, StoredLine, StoredOrder, StoredPayment};
use huiyuan_store::utc_now;
use serde_json::json;
use std::sync::Arc;
use time::{OffsetDateTime, UtcOffset};

/// An order checked and looked up before its write transaction.
pub enum Prepared {
    /// The channel already posted this order.
    Existing(Box<OrderView>),
    New(Box<NewOrder>),
}

/// A new order with everything its transaction needs.
pub struct NewOrder {
    order: StoredOrder,
    lines: Vec<StoredLine>,
    payments: Vec<StoredPayment>,
    member: Option<StoredMember>,
    config: Arc<TenantConfig>,
    tier: TierEarning,
}

/// The order's lines as stored (names and categories trimmed), before they earn.
pub(super) fn stored_lines(input: &OrderInput) -> Vec<StoredLine> {
    input
        .lines
        .iter()
        .map(|line| StoredLine {
            line_no: i64::from(line.line_no),
            sku: line.sku.trim().to_owned(),
            name: line.name.trim().to_owned(),
            category_path: line
                .category_path
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            quantity: i64::from(line.quantity),
            unit_price_fen: line.unit_price_fen,
            amount_fen: line.amount_fen,
            excluded: line.excluded,
            refunded_quantity: 0,
            refunded_fen: 0,
            points_earned: 0,
        })
        .collect()
}

/// A time as the database gives it back: UTC, whole microseconds (the answer is built from
/// memory and must equal what a later read of the order shows).
pub(super) fn as_stored(at: OffsetDateTime) -> OffsetDateTime {
    let at = at.to_offset(UtcOffset::UTC);
    at.replace_nanosecond(at.nanosecond() / 1_000 * 1_000)
        .unwrap_or(at)
}

/// The reads of [`ingest`] that need no transaction (see the module comment for why each is
/// safe outside it). Never holds two connections at once.
pub async fn prepare(
    app: &AppState,
    caller: &Principal,
    parsed: ParsedOrder,
) -> ApiResult<Prepared> {
    let tenant = caller.tenant_id;
    let origin = origin(app, caller, &parsed.input).await?;
    let config = app.config.tenant(&app.store, tenant).await?;
    let format_code = format_code(app, &config, tenant, origin.format_id).await?;
    let mut session = app.store.read().await?;
    let member =
        match order_member(&mut session, &app.vault, caller, &parsed.input, utc_now()).await {
            Ok(member) => member,
            // A retry of a posted order gets the order even when its member no longer resolves the
            // way it did (the member code it carries has expired since).
            Err(error) => {
                return match orders::order_by_external_id(
                    &mut session,
                    tenant,
                    origin.channel_id.0,
                    &parsed.external_id,
                )
                .await?
                {
                    Some(existing) => {
                        let view = order_view(&mut session, tenant, existing).await?;
                        Ok(Prepared::Existing(Box::new(view)))
                    }
                    None => Err(error),
                };
            }
        };
    let tier = member_tier(
        &mut session,
        tenant,
        &config,
        member.as_ref().map(|row| row.id),
        format_code.as_deref(),
    )
    .await?;
    drop(session);
    let input = &parsed.input;
    let order = StoredOrder {
        id: OrderId::new(),
        member_id: member.as_ref().map(|row| row.id),
        channel_id: origin.channel_id.0,
        external_id: parsed.external_id.clone(),
        store_id: origin.store_id.map(|s| s.0),
        format_id: origin.format_id.0,
        guide_id: input.guide_id.map(|g| g.0),
        occurred_at: as_stored(input.occurred_at),
        total_fen: input.total_fen,
        paid_by_points_fen: parsed.paid_by_points_fen,
        paid_by_coupons_fen: parsed.paid_by_coupons_fen,
        refunded_fen: 0,
        status: COMPLETED.to_owned(),
        points_earned: 0,
        points_reversed: 0,
        accrual: None,
        claimed_at: None,
        // Set to the transaction's time in `ingest`.
        created_at: OffsetDateTime::UNIX_EPOCH,
        updated_at: OffsetDateTime::UNIX_EPOCH,
    };
    let payments = input
        .payments
        .iter()
        .map(|p| StoredPayment {
            method: p.method.as_str().to_owned(),
            amount_fen: p.amount_fen,
        })
        .collect();
    Ok(Prepared::New(Box::new(NewOrder {
        order,
        lines: stored_lines(input),
        payments,
        member,
        config,
        tier,
    })))
}

/// Posts a prepared order: a new one answers `(true, view)`, a retry of the same (channel,
/// external id) the stored order `(false, view)` without earning again.
pub async fn ingest(m: &mut Mutation, prepared: Prepared) -> ApiResult<(bool, OrderView)> {
    let new = match prepared {
        Prepared::Existing(view) => return Ok((false, *view)),
        Prepared::New(new) => *new,
    };
    let NewOrder {
        mut order,
        mut lines,
        payments,
        member,
        config,
        tier,
    } = new;
    order.created_at = m.now;
    order.updated_at = m.now;
    // The insert guards the natural key; a member's order takes the balance row in the same
    // round trip (see `order_intake`).
    let taken = match &member {
        Some(member) => {
            // The rules evaluation will see (`rules_for`): the tenant's, then the tier benefit.
            let rules = config.rules.iter().chain(tier.1.iter());
            let counters: Vec<RuleWindow> = counter_reads(rules, order.occurred_at, &config.zone)?
                .iter()
                .map(CounterRead::rule_window)
                .collect();
            let intake = insert_order_locking(
                &mut m.session,
                m.tenant,
                &order,
                member.id,
                m.now,
                &counters,
            )
            .await?;
            match intake {
                Intake::Duplicate => return posted_twin(m, &order).await,
                Intake::Inserted { available, counted } => {
                    Some((available.ok_or_else(member_changed)?, counted))
                }
            }
        }
        None => {
            if !orders::insert_order(&mut m.session, m.tenant, &order, &[], &[]).await? {
                return posted_twin(m, &order).await;
            }
            None
        }
    };
    if let (Some(member), Some((available, counted))) = (&member, taken) {
        let earner = Earner {
            config: &config,
            member,
            tier: &tier,
            available,
            counted,
        };
        let accrual = accrue_order(m, &order, &lines, earner).await?;
        for line in &mut lines {
            line.points_earned = accrual
                .per_line
                .iter()
                .filter(|p| i64::from(p.line_no) == line.line_no)
                .map(|p| p.points)
                .sum();
        }
        order.points_earned = accrual.total_points;
        orders::defer_order_accrual(&mut m.session, m.tenant, order.id, &accrual, m.now)?;
        order.accrual = Some(accrual);
    }
    // The lines go in once they carry their points: one statement instead of one per line.
    orders::defer_order_lines(&mut m.session, m.tenant, order.id, &lines)?;
    orders::defer_order_payments(&mut m.session, m.tenant, order.id, &payments);
    let summary = json!({
        "external_id": order.external_id, "channel_id": order.channel_id, "member_id": order.member_id,
        "total_fen": order.total_fen, "points": order.points_earned,
    });
    m.audit("order.created", "order", order.id, summary).await?;
    Ok((true, assemble_view(order, lines, payments, Vec::new())))
}

/// The answer when a concurrent twin (same channel and external id) committed first; PostgreSQL
/// waited for it.
async fn posted_twin(m: &mut Mutation, order: &StoredOrder) -> ApiResult<(bool, OrderView)> {
    let existing = orders::order_by_external_id(
        &mut m.session,
        m.tenant,
        order.channel_id,
        &order.external_id,
    )
    .await?
    .ok_or_else(|| {
        ApiError::with_detail(
            ErrorCode::Conflict,
            "the same order is being posted concurrently; retry",
        )
    })?;
    Ok((false, order_view(&mut m.session, m.tenant, existing).await?))
}
