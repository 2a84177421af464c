//! Manual adjustments with a reason.

use super::{Posting, earn, spend};
use crate::app::access::visible_member;
use crate::app::error::ApiResult;
use crate::app::mutation::Mutation;
use crate::app::tenancy::zone::tenant_zone;
use huiyuan_domain::auth::{Access, Principal};
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::ledger::{Adjustment, LedgerAccount};
use huiyuan_domain::validation::FieldError;
use huiyuan_store::ledger::Entry;
use serde_json::json;

/// Staff adjusting the member `id`'s points by hand (`points:adjust`), within `caller`'s scope:
/// only active members hold points; the adjustment is audited as `points.adjusted`.
pub async fn adjust_by_hand(
    m: &mut Mutation,
    caller: &Principal,
    id: MemberId,
    adjustment: &Adjustment,
) -> ApiResult<Entry> {
    let (member, _) = visible_member(&mut m.session, caller, id, Access::Write).await?;
    if member.status != "active" {
        return Err(FieldError::new("id", "not_active", "only active members hold points").into());
    }
    let tz = tenant_zone(&mut m.session, m.tenant).await?;
    let posted = adjust(
        m,
        member.id,
        adjustment.points,
        &adjustment.reason,
        None,
        &tz,
    )
    .await?;
    m.audit(
        "points.adjusted",
        "member",
        member.id,
        json!({ "points": adjustment.points, "reason": adjustment.reason, "entry_id": posted.id }),
    )
    .await?;
    Ok(posted)
}

/// A manual adjustment: positive amounts are granted as a new lot, negative ones spent (never
/// below zero). Reason required.
pub async fn adjust(
    m: &mut Mutation,
    member: MemberId,
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
