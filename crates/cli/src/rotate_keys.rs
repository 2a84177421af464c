//! `huiyuan rotate-keys`: adds a personal-data key to the keyring, makes it the one new values
//! are sealed with, and re-seals every value an older key sealed — members' name, address and ID
//! number, every identifier, the survivor snapshots merges keep for undoing them, and points mall
//! shipping addresses — in batches of one transaction each.
//!
//! Safe to interrupt and to re-run: the new key is saved before anything is re-sealed, each batch
//! commits on its own, and a run re-seals only what is still sealed with an older key
//! (`--no-new-key` re-seals without adding another key). A value a running server changed since
//! it was read is left alone and counted; the next run picks it up.
//!
//! Servers read the keyring at start: restart every node after the new key is saved, or they
//! cannot open values sealed with it. Old keys stay in the keyring so backups remain readable.
//! The blind-index key is not rotated — every index and name search token would have to be
//! recomputed while servers look members up by them — and neither is the member-code key, whose
//! codes live a minute; values sealed with the new key keep the same blind indexes.

use anyhow::Context;
use clap::Args;
use huiyuan_domain::ids::TenantId;
use huiyuan_server::app::vault::{Keyring, Vault};
use huiyuan_server::config::Settings;
use huiyuan_store::Store;
use huiyuan_store::mall::redemptions;
use huiyuan_store::reseal::{self, RowKey};
use std::path::Path;
use uuid::Uuid;

/// Rows re-sealed per transaction: small enough that a batch holds SQLite's write lock for
/// milliseconds, large enough that a million members take a few thousand transactions.
const DEFAULT_BATCH: i64 = 500;

#[derive(Args)]
pub struct RotateKeysArgs {
    /// Only re-seal values sealed with older keys; do not add a key.
    #[arg(long)]
    no_new_key: bool,
    /// Rows per transaction (1–10000).
    #[arg(long, default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(i64).range(1..=reseal::MAX_BATCH))]
    batch_size: i64,
}

/// What one table's walk did.
#[derive(Debug, Default)]
struct Tally {
    rows: u64,
    resealed: u64,
    /// Changed by someone else between read and write; left for the next run.
    changed: u64,
    /// Could not be opened with any key in the keyring.
    unreadable: u64,
}

pub async fn run(settings: Settings, args: RotateKeysArgs) -> anyhow::Result<()> {
    let path = settings.keyring_path();
    let mut keyring = load_keyring(&path)?;
    if args.no_new_key {
        println!(
            "keyring {}: re-sealing with the active key k{}",
            path.display(),
            keyring.active
        );
    } else {
        let id = keyring.rotate();
        keyring
            .save(&path)
            .with_context(|| format!("saving the keyring {}", path.display()))?;
        println!(
            "keyring {}: added key k{id}, now active; restart running servers so they can read it",
            path.display()
        );
    }
    let vault = Vault::new(&keyring)?;
    let store = Store::connect(&settings.database()).await?;
    store.migrate().await?;
    let walked = reseal_all(&store, &vault, args.batch_size).await;
    store.close().await;
    let tallies = walked?;
    for (table, tally) in &tallies {
        println!(
            "{table}: {} rows checked, {} values re-sealed, {} changed meanwhile, {} unreadable",
            tally.rows, tally.resealed, tally.changed, tally.unreadable
        );
    }
    let total =
        |count: fn(&Tally) -> u64| tallies.iter().map(|(_, tally)| count(tally)).sum::<u64>();
    let (resealed, changed, unreadable) = (
        total(|t| t.resealed),
        total(|t| t.changed),
        total(|t| t.unreadable),
    );
    println!(
        "done: {resealed} values re-sealed with k{}",
        vault.active_key()
    );
    if changed > 0 {
        println!(
            "{changed} values changed while re-sealing; run `huiyuan rotate-keys --no-new-key` again"
        );
    }
    anyhow::ensure!(
        unreadable == 0,
        "{unreadable} values could not be opened with any key in the keyring and were left as they are"
    );
    Ok(())
}

/// Rotation needs the keyring the data was sealed with; a missing file is an error, never a
/// reason to create one.
fn load_keyring(path: &Path) -> anyhow::Result<Keyring> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the keyring {} (the server creates it on first start)",
            path.display()
        )
    })?;
    serde_json::from_str(&text).with_context(|| format!("parsing the keyring {}", path.display()))
}

/// What to do with one sealed value.
enum Outcome {
    /// Sealed with the active key (or not in sealed form, which is not rotation's business).
    Current,
    /// The same plaintext sealed with the active key.
    Fresh(String),
    /// Sealed with an older key that cannot open it.
    Unreadable,
}

fn reseal(vault: &Vault, sealed: &str) -> Outcome {
    if !vault.is_stale(sealed) {
        return Outcome::Current;
    }
    match vault.open(sealed) {
        Ok(plain) => Outcome::Fresh(vault.seal(&plain)),
        Err(_) => Outcome::Unreadable,
    }
}

fn warn_unreadable(table: &str, tenant: Uuid, row: Uuid, column: &str) {
    eprintln!("warning: {table} {row} (tenant {tenant}) {column}: cannot be opened; left as is");
}

/// Walks the places sealed values live, one after the other.
async fn reseal_all(
    store: &Store,
    vault: &Vault,
    batch: i64,
) -> anyhow::Result<Vec<(&'static str, Tally)>> {
    Ok(vec![
        ("members", reseal_members(store, vault, batch).await?),
        (
            "member_identifiers",
            reseal_identifiers(store, vault, batch).await?,
        ),
        (
            "member_merges",
            reseal_merge_snapshots(store, vault, batch).await?,
        ),
        (
            "reward_redemptions",
            reseal_shipping_addresses(store, vault, batch).await?,
        ),
    ])
}

/// Points mall shipping addresses.
async fn reseal_shipping_addresses(
    store: &Store,
    vault: &Vault,
    batch: i64,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut after: Option<RowKey> = None;
    loop {
        let mut session = store.write().await?;
        let rows = redemptions::sealed_addresses(&mut session, after, batch).await?;
        let Some(last) = rows.last() else {
            return Ok(tally);
        };
        after = Some(last.key());
        for row in &rows {
            tally.rows += 1;
            match reseal(vault, &row.value_enc) {
                Outcome::Current => {}
                Outcome::Fresh(fresh) => {
                    let tenant = TenantId(row.tenant_id);
                    if redemptions::reseal_address(
                        &mut session,
                        tenant,
                        row.member_id,
                        row.id,
                        &row.value_enc,
                        &fresh,
                    )
                    .await?
                    {
                        tally.resealed += 1;
                    } else {
                        tally.changed += 1;
                    }
                }
                Outcome::Unreadable => {
                    tally.unreadable += 1;
                    warn_unreadable("reward redemption", row.tenant_id, row.id, "shipping_enc");
                }
            }
        }
        session.commit().await?;
    }
}

async fn reseal_members(store: &Store, vault: &Vault, batch: i64) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut after: Option<RowKey> = None;
    loop {
        let mut session = store.write().await?;
        let rows = reseal::sealed_members(&mut session, after, batch).await?;
        let Some(last) = rows.last() else {
            return Ok(tally);
        };
        after = Some(last.key());
        for row in &rows {
            tally.rows += 1;
            for (column, sealed) in row.values() {
                match reseal(vault, sealed) {
                    Outcome::Current => {}
                    Outcome::Fresh(fresh) => {
                        let tenant = TenantId(row.tenant_id);
                        if reseal::reseal_member_value(
                            &mut session,
                            tenant,
                            row.id,
                            column,
                            sealed,
                            &fresh,
                        )
                        .await?
                        {
                            tally.resealed += 1;
                        } else {
                            tally.changed += 1;
                        }
                    }
                    Outcome::Unreadable => {
                        tally.unreadable += 1;
                        warn_unreadable("member", row.tenant_id, row.id.0, column.as_str());
                    }
                }
            }
        }
        session.commit().await?;
    }
}

async fn reseal_identifiers(store: &Store, vault: &Vault, batch: i64) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut after: Option<RowKey> = None;
    loop {
        let mut session = store.write().await?;
        let rows = reseal::sealed_identifiers(&mut session, after, batch).await?;
        let Some(last) = rows.last() else {
            return Ok(tally);
        };
        after = Some(last.key());
        for row in &rows {
            tally.rows += 1;
            match reseal(vault, &row.value_enc) {
                Outcome::Current => {}
                Outcome::Fresh(fresh) => {
                    let tenant = TenantId(row.tenant_id);
                    if reseal::reseal_identifier_value(
                        &mut session,
                        tenant,
                        row.member_id,
                        row.id,
                        &row.value_enc,
                        &fresh,
                    )
                    .await?
                    {
                        tally.resealed += 1;
                    } else {
                        tally.changed += 1;
                    }
                }
                Outcome::Unreadable => {
                    tally.unreadable += 1;
                    warn_unreadable("identifier", row.tenant_id, row.id, "value_enc");
                }
            }
        }
        session.commit().await?;
    }
}

async fn reseal_merge_snapshots(store: &Store, vault: &Vault, batch: i64) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    let mut after: Option<RowKey> = None;
    loop {
        let mut session = store.write().await?;
        let rows = reseal::merge_snapshots(&mut session, after, batch).await?;
        let Some(last) = rows.last() else {
            return Ok(tally);
        };
        after = Some(last.key());
        for row in rows {
            tally.rows += 1;
            let mut snapshot = row.survivor_before;
            let mut resealed = 0;
            let fields = [
                ("survivor_before.name_enc", &mut snapshot.name_enc),
                ("survivor_before.address_enc", &mut snapshot.address_enc),
                ("survivor_before.id_card_enc", &mut snapshot.id_card_enc),
            ];
            for (column, field) in fields {
                let Some(sealed) = field.as_deref() else {
                    continue;
                };
                match reseal(vault, sealed) {
                    Outcome::Current => {}
                    Outcome::Fresh(fresh) => {
                        *field = Some(fresh);
                        resealed += 1;
                    }
                    Outcome::Unreadable => {
                        tally.unreadable += 1;
                        warn_unreadable("merge", row.tenant_id, row.id, column);
                    }
                }
            }
            if resealed == 0 {
                continue;
            }
            let tenant = TenantId(row.tenant_id);
            if reseal::replace_merge_snapshot(
                &mut session,
                tenant,
                row.survivor_id,
                row.id,
                &snapshot,
            )
            .await?
            {
                tally.resealed += resealed;
            } else {
                tally.changed += resealed;
            }
        }
        session.commit().await?;
    }
}
