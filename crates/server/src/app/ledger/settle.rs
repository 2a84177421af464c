//! Settling a member's lots: releasing pending points whose window has passed, expiring lots.

use super::{Posting, append, entry};
use crate::app::error::{ApiError, ApiResult};
use crate::app::mutation::Mutation;
use huiyuan_domain::ids::MemberId;
use huiyuan_domain::ledger::{Draw, LedgerAccount};
use huiyuan_store::ledger;

/// Releases the member's pending lots whose window has passed and expires lots whose time has
/// come; returns (released, expired) points. Idempotent: each lot is settled once.
pub async fn settle_member(m: &mut Mutation, member: MemberId) -> ApiResult<(i64, i64)> {
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
                        LedgerAccount::MemberPending,
                        LedgerAccount::MemberAvailable,
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
                LedgerAccount::MemberPending
            } else {
                LedgerAccount::MemberAvailable
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
                    account,
                    LedgerAccount::Expiry,
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
