//! Manual adjustments with a reason.

use super::{Posting, earn, spend};
use crate::app::error::ApiResult;
use crate::app::mutation::Mutation;
use huiyuan_domain::ledger::LedgerAccount;
use huiyuan_store::ledger::Entry;
use uuid::Uuid;

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
            LedgerAccount::Adjustment,
            &posting,
            tz,
        )
        .await
    } else {
        spend(
            m,
            member,
            -delta,
            "adjust",
            LedgerAccount::Adjustment,
            &posting,
        )
        .await
    }
}
