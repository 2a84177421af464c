//! The points ledger as a service: earning into a lot (pending for a return window when the
//! policy says so), spending first-to-expire first, expiring and releasing due lots, manual
//! adjustments. Every function runs inside the caller's open [`Mutation`], so a business event,
//! its entries and its audit record commit together or not at all.
//!
//! Invariant kept here and checked by `verify`: a member's available balance equals the sum of
//! their entries into and out of `member.available`, and (while not overdrawn) the points left in
//! their released, unexpired lots.

use crate::app::error::{ApiError, ApiResult, ErrorCode};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::{MemberId, TenantId};
use huiyuan_domain::ledger::{Draw, LedgerAccount};
use huiyuan_store::Session;
use huiyuan_store::ledger::{self, Entry};
use time::OffsetDateTime;
use uuid::Uuid;

mod adjust;
mod after_spend;
pub mod balance;
mod clawback;
pub mod configure;
mod earn;
pub mod merge;
pub mod policy;
mod settle;
mod spend;
mod verify;

pub use adjust::{adjust, adjust_by_hand};
pub use after_spend::{issuing_formats, move_held, reverse_spend};
pub use clawback::{Clawback, clawback};
pub use earn::{earn, earn_new};
pub use settle::settle_member;
pub use spend::{as_insufficient_points, insufficient, spend};
pub use verify::{VerifyReport, verify_all};

/// The account a format's issued points are owed from (the group's without a format).
pub fn issuance_account(format: Option<Uuid>) -> LedgerAccount {
    LedgerAccount::issuance(format)
}

/// The account redeemed points are claimed by.
pub fn redemption_account(format: Option<Uuid>) -> LedgerAccount {
    LedgerAccount::redemption(format)
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
    member: MemberId,
    kind: &str,
    amount: i64,
    debit: LedgerAccount,
    credit: LedgerAccount,
    posting: &Posting,
    draws: Vec<Draw>,
    now: OffsetDateTime,
) -> Entry {
    Entry {
        id: Uuid::now_v7(),
        member_id: member,
        kind: kind.to_owned(),
        amount,
        debit_account: debit.to_string(),
        credit_account: credit.to_string(),
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

/// The member profile's `points` summary: balances, and the lifetime earned.
pub fn points_section<'a>(
    session: &'a mut Session,
    tenant: TenantId,
    member: MemberId,
) -> crate::app::profile::SectionFuture<'a> {
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
pub fn donation_account(format: Option<Uuid>) -> LedgerAccount {
    LedgerAccount::donation(format)
}

/// The account a stored entry names, read back as the account it was written from; a name that
/// no longer parses is stored data gone wrong, not a caller's mistake.
fn stored_account(name: &str) -> ApiResult<LedgerAccount> {
    name.parse().map_err(ApiError::internal)
}
