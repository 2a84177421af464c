//! `huiyuan import members FILE.csv`: legacy members from a CSV export, a transaction per batch,
//! with a progress bar, a reject file and a probable-duplicate report. The cleaning, matching
//! and writing are the server's ([`huiyuan_server::app::identity::import`]), so the file and the bulk
//! API behave alike. Changes are audited with the `system` actor.

use anyhow::Context;
use clap::{Args, Subcommand};
use huiyuan_server::app::identity::import::{
    CsvRows, DEFAULT_BATCH_ROWS, DuplicateFile, ImportCounts, Importer, MAX_BATCH_ROWS, RejectFile,
    RunOptions, import_csv, parse_mapping,
};
use huiyuan_server::app::tenancy::{self, ADMIN_USERNAME};
use huiyuan_server::config::Settings;
use indicatif::{ProgressBar, ProgressStyle};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import legacy members from a CSV file (UTF-8, header row first). Rows whose phone, email,
    /// unionid, card number or legacy id name a member already fill that member's missing
    /// fields; the others become new members. Running a file twice changes nothing the second
    /// time.
    Members(MembersArgs),
}

#[derive(Args)]
pub struct MembersArgs {
    /// The CSV file. Recognised headers: phone, email, name, gender, birthday, province, city,
    /// district, address, card_no, legacy_id, unionid, id_card_no, store_code, and common
    /// spellings such as mobile, 手机号, 姓名, 性别, 生日, 地址, 卡号, 会员编号, 门店编码.
    file: PathBuf,
    /// Slug of the tenant to import into [default: the default tenant].
    #[arg(long)]
    tenant: Option<String>,
    /// `header=field` pairs for other headers, comma-separated; `header=ignore` skips a column.
    /// Example: `--map 会员手机=phone,备注=ignore`.
    #[arg(long = "map", value_delimiter = ',')]
    map: Vec<String>,
    /// Where rejected rows are written, with their line number and reason
    /// [default: FILE.rejects.csv beside the file].
    #[arg(long)]
    reject_file: Option<PathBuf>,
    /// Where probable duplicates (new members that may be someone already known) are listed
    /// [default: FILE.duplicates.csv beside the file].
    #[arg(long)]
    duplicates_file: Option<PathBuf>,
    /// Check and report without writing anything to the database.
    #[arg(long)]
    dry_run: bool,
    /// Rows per transaction (1 to 20000).
    #[arg(long, default_value_t = DEFAULT_BATCH_ROWS as u32,
        value_parser = clap::value_parser!(u32).range(1..=MAX_BATCH_ROWS as i64))]
    batch_size: u32,
}

pub async fn run(settings: Settings, command: ImportCommand) -> anyhow::Result<()> {
    match command {
        ImportCommand::Members(args) => members(settings, args).await,
    }
}

/// `members.csv` → `members.<suffix>.csv` in the same directory.
fn beside(file: &Path, suffix: &str) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| "import".to_owned());
    file.with_file_name(format!("{stem}.{suffix}.csv"))
}

async fn members(settings: Settings, args: MembersArgs) -> anyhow::Result<()> {
    let mapping = parse_mapping(&args.map).map_err(|error| anyhow::anyhow!(error.message))?;
    let file =
        File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let source = CsvRows::open(BufReader::with_capacity(1 << 20, file), &mapping)
        .map_err(|error| anyhow::anyhow!("{}: {}", args.file.display(), error.message))?;

    let opened = huiyuan_server::open(settings).await?;
    if let Some(password) = &opened.generated_admin_password {
        println!(
            "Created tenant '{}' with admin account '{ADMIN_USERNAME}', password: {password} (shown once)",
            opened.default_tenant.slug.as_str()
        );
    }
    let state = opened.state;
    let tenant = match &args.tenant {
        Some(slug) => tenancy::find_tenant(&state.store, slug)
            .await
            .map_err(huiyuan_server::app::identity::import::describe)?
            .ok_or_else(|| anyhow::anyhow!("no tenant with slug '{slug}'"))?,
        None => opened.default_tenant,
    };

    let columns = source.columns().clone();
    let described: Vec<String> = columns
        .mapped()
        .into_iter()
        .map(|column| match column.field {
            Some(field) => format!("{} → {field}", column.header),
            None => format!("{} (ignored)", column.header),
        })
        .collect();
    println!("columns: {}", described.join(", "));

    let reject_path = args
        .reject_file
        .clone()
        .unwrap_or_else(|| beside(&args.file, "rejects"));
    let duplicates_path = args
        .duplicates_file
        .clone()
        .unwrap_or_else(|| beside(&args.file, "duplicates"));
    let create = |path: &Path| {
        File::create(path)
            .map(BufWriter::new)
            .with_context(|| format!("cannot write {}", path.display()))
    };
    let mut rejects = RejectFile::new(create(&reject_path)?, columns.headers())?;
    let mut duplicates = DuplicateFile::new(create(&duplicates_path)?)?;

    let source_name = args
        .file
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut importer = Importer::new(
        state.vault.clone(),
        state.identity.clone(),
        Importer::system_caller(tenant.id),
        columns,
        &source_name,
    );
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{wide_bar}] {percent:>3}% {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let started = Instant::now();
    let options = RunOptions {
        dry_run: args.dry_run,
        batch_rows: args.batch_size as usize,
    };
    let finished = import_csv(
        &state.store,
        &mut importer,
        source,
        options,
        |outcome, counts, bytes| {
            rejects.write(&outcome.rejects)?;
            duplicates.write(&outcome.probable_duplicates)?;
            bar.set_position(bytes);
            let rate = counts.rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{} rows, {rate:.0} rows/s", counts.rows));
            Ok(())
        },
    )
    .await;
    bar.finish_and_clear();
    rejects.finish()?;
    duplicates.finish()?;
    state.store.close().await;
    let counts = finished?;
    report(
        &args,
        &tenant.slug,
        &counts,
        started,
        &reject_path,
        &duplicates_path,
    );
    Ok(())
}

fn report(
    args: &MembersArgs,
    tenant: &huiyuan_domain::org::Code,
    counts: &ImportCounts,
    started: Instant,
    reject_path: &Path,
    duplicates_path: &Path,
) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{} {} rows of {} into tenant '{}' in {seconds:.2} s ({:.0} rows/s)",
        if args.dry_run { "checked" } else { "imported" },
        counts.rows,
        args.file.display(),
        tenant.as_str(),
        counts.rows as f64 / seconds.max(1e-3),
    );
    println!(
        "created {}, merged {}, unchanged {}, rejected {} ({} rows named a member an earlier row named)",
        counts.created, counts.merged, counts.unchanged, counts.rejected, counts.duplicates_in_file
    );
    println!(
        "rejected rows: {} in {}",
        counts.rejected,
        reject_path.display()
    );
    println!(
        "probable duplicates for review: {} new members in {}",
        counts.probable_duplicates,
        duplicates_path.display()
    );
    if args.dry_run {
        println!("dry run: nothing was written to the database");
    }
}
