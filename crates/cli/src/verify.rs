//! `huiyuan verify`: proves every points balance equals the sum of its entries and the lots
//! behind it. Exits non-zero when anything disagrees.

use huiyuan_server::config::Settings;
use huiyuan_store::Store;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let store = Store::connect(&settings.database()).await?;
    store.migrate().await?;
    let report = huiyuan_server::app::ledger::verify_all(&store)
        .await
        .map_err(|error| anyhow::anyhow!("{error:?}"))?;
    store.close().await;
    for (tenant, d) in &report.discrepancies {
        println!(
            "MISMATCH tenant {tenant} member {} {}: stored {} but entries/lots say {}",
            d.member_id, d.account, d.stored, d.from_entries
        );
    }
    println!(
        "verified {} member balance(s) in {} tenant(s): {} discrepancy(ies)",
        report.members_checked,
        report.tenants,
        report.discrepancies.len()
    );
    anyhow::ensure!(
        report.discrepancies.is_empty(),
        "the ledger does not verify"
    );
    Ok(())
}
