//! `huiyuan verify`: balances against entries and lots, for every member.

use crate::app::error::ApiResult;
use huiyuan_domain::ids::TenantId;
use huiyuan_store::ledger;
use huiyuan_store::tenants;

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
