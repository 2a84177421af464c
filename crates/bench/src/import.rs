//! `import`: generates a synthetic legacy export (Chinese mobiles, names, birthdays in mixed
//! spellings, addresses, card numbers and legacy ids; ~2% of rows repeat an earlier member with a
//! differently spelled phone; a few invalid rows), imports it with the same code path as
//! `huiyuan import members` into a fresh tenant, prints rows per second, then imports it again
//! and checks that the second run changed nothing.

use anyhow::{bail, ensure};
use huiyuan_domain::ids::TenantId;
use huiyuan_server::app::identity::import::{
    CsvRows, ImportCounts, Importer, RunOptions, describe, import_csv,
};
use huiyuan_server::app::state::AppState;
use huiyuan_server::app::tenancy::{NewTenant, create_tenant};
use huiyuan_server::config::Settings;
use huiyuan_store::Store;
use huiyuan_store::backend::Backend;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::time::Instant;

/// One row in this many repeats an earlier member (~2%).
const DUPLICATE_EVERY: u64 = 50;
/// One row in this many is invalid (~0.1%).
const INVALID_EVERY: u64 = 997;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀", "霞", "平", "刚", "桂", "英", "华", "玉", "兰", "文", "辉", "建", "国", "红", "梅",
    "鑫", "宇", "浩", "婷", "雪", "琳", "晨", "欣",
];
const CITIES: &[(&str, &str)] = &[
    ("上海", "上海"),
    ("北京", "北京"),
    ("广东", "广州"),
    ("广东", "深圳"),
    ("浙江", "杭州"),
    ("江苏", "南京"),
    ("四川", "成都"),
    ("湖北", "武汉"),
];
const ROADS: &[&str] = &[
    "南京路",
    "淮海路",
    "人民路",
    "中山路",
    "解放路",
    "建设路",
    "长江路",
];

/// SplitMix64: deterministic, so every run imports the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The `i`-th distinct mobile: `1` + a second digit 3–9 + nine digits, distinct for every `i`
/// below 10⁹ (multiplying by an odd constant permutes the residues mod 10⁹).
fn phone(i: u64) -> String {
    let body = (i.wrapping_mul(387_420_489) + 12_345) % 1_000_000_000;
    format!("1{}{body:09}", 3 + (i % 7))
}

/// Writes the synthetic file; answers how many rows it holds and how many of them are invalid.
fn generate(path: &Path, rows: u64) -> anyhow::Result<(u64, u64)> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(
        out,
        "手机号,姓名,性别,生日,省份,城市,地址,卡号,会员编号,email"
    )?;
    let mut rng = Rng(0x5EED);
    let mut invalid = 0;
    let mut member = 0u64;
    for row in 1..=rows {
        if row % INVALID_EVERY == 0 {
            invalid += 1;
            // A phone that is too short, and a 13th month.
            writeln!(out, "1380013,无效,男,1990-13-01,,,,,,")?;
            continue;
        }
        let repeat = row % DUPLICATE_EVERY == 0 && member > 10;
        let i = if repeat {
            1 + rng.below(member as usize) as u64
        } else {
            member += 1;
            member
        };
        // Everything about member `i` derives from `i`, so a repeat matches its first row.
        let mut person = Rng(i.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let name = format!(
            "{}{}{}",
            SURNAMES[person.below(SURNAMES.len())],
            GIVEN[person.below(GIVEN.len())],
            if person.below(3) == 0 {
                ""
            } else {
                GIVEN[person.below(GIVEN.len())]
            }
        );
        let gender = ["男", "女", "M", "F"][person.below(4)];
        let (year, month, day) = (
            1950 + person.below(55),
            1 + person.below(12),
            1 + person.below(28),
        );
        let birthday = match person.below(3) {
            0 => format!("{year}-{month:02}-{day:02}"),
            1 => format!("{year}/{month}/{day}"),
            _ => format!("{year}{month:02}{day:02}"),
        };
        let (province, city) = CITIES[person.below(CITIES.len())];
        let address = format!(
            "{city}市{}{}号{}室",
            ROADS[person.below(ROADS.len())],
            1 + person.below(2_000),
            101 + person.below(2_000)
        );
        let email = if person.below(2) == 0 {
            format!("member{i}@example.com")
        } else {
            String::new()
        };
        let phone = phone(i);
        // A repeat spells the phone the other way and leaves the card out; it brings the legacy
        // id that every fourth member's first row lacks (a merge).
        let (phone, card, legacy) = if repeat {
            (format!("+86 {phone}"), String::new(), format!("L{i:08}"))
        } else if i % 4 == 0 {
            (phone, format!("C{i:08}"), String::new())
        } else {
            (phone, format!("C{i:08}"), format!("L{i:08}"))
        };
        writeln!(
            out,
            "{phone},{name},{gender},{birthday},{province},{city},{address},{card},{legacy},{email}"
        )?;
    }
    out.flush()?;
    Ok((rows, invalid))
}

async fn count(store: &Store, tenant: TenantId, table: &str) -> anyhow::Result<i64> {
    let mut session = store.read().await?;
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1");
    let counted: i64 = match session.backend().await? {
        Backend::Sqlite(c) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .fetch_one(&mut *c)
                .await?
        }
        Backend::Postgres(c) => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(tenant.0)
                .fetch_one(&mut *c)
                .await?
        }
    };
    Ok(counted)
}

async fn run_once(
    state: &AppState,
    tenant: TenantId,
    file: &Path,
    batch_rows: usize,
) -> anyhow::Result<(ImportCounts, f64)> {
    let reader = BufReader::with_capacity(1 << 20, std::fs::File::open(file)?);
    let source = CsvRows::open(reader, &[]).map_err(|e| anyhow::anyhow!(e.message))?;
    let mut importer = Importer::new(
        state.vault.clone(),
        state.identity.clone(),
        Importer::system_caller(tenant),
        source.columns().clone(),
        "bench.csv",
    );
    let options = RunOptions {
        dry_run: false,
        batch_rows,
    };
    let started = Instant::now();
    let counts = import_csv(&state.store, &mut importer, source, options, |_, _, _| {
        Ok(())
    })
    .await?;
    Ok((counts, started.elapsed().as_secs_f64()))
}

fn print(label: &str, counts: &ImportCounts, seconds: f64) {
    println!(
        "{label}: {} rows in {seconds:.2} s = {:.0} rows/s (created {}, merged {}, unchanged {}, rejected {}, \
         duplicates in file {}, probable duplicates {})",
        counts.rows,
        counts.rows as f64 / seconds,
        counts.created,
        counts.merged,
        counts.unchanged,
        counts.rejected,
        counts.duplicates_in_file,
        counts.probable_duplicates
    );
}

pub async fn run(rows: u64, batch_rows: usize, database_url: Option<String>) -> anyhow::Result<()> {
    let data_dir = tempfile::tempdir()?;
    let backend = super::backend_name(database_url.as_deref());
    let file = data_dir.path().join("legacy-members.csv");
    let started = Instant::now();
    let (rows, invalid) = generate(&file, rows)?;
    let size = std::fs::metadata(&file)?.len();
    println!(
        "generated {rows} rows ({invalid} invalid, ~{}% repeats) in {:.1} s, {:.1} MiB",
        100 / DUPLICATE_EVERY,
        started.elapsed().as_secs_f64(),
        size as f64 / (1024.0 * 1024.0)
    );

    let settings = Settings {
        data_dir: data_dir.path().to_path_buf(),
        database_url,
        admin_password: Some("bench-admin-password".to_owned()),
        log_level: "warn".to_owned(),
        // As in the orders bench: the tuned server, as BENCHMARKS.md measured it.
        sqlite_pin_writer: true,
        ..Settings::default()
    };
    let opened = huiyuan_server::open(settings).await?;
    let state = opened.state;
    // A tenant of its own, so runs against one PostgreSQL database never meet.
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis();
    let input = NewTenant::parse(&format!("import-{run_id}"), "Import bench", None)
        .map_err(|errors| anyhow::anyhow!("{errors:?}"))?;
    let tenant = create_tenant(&state.store, input, Some("bench-admin-password".into()), 64)
        .await
        .map_err(describe)?
        .tenant
        .id;

    println!("backend: {backend}, batch: {batch_rows} rows per transaction");
    let (first, seconds) = run_once(&state, tenant, &file, batch_rows).await?;
    print("first run", &first, seconds);
    let members = count(&state.store, tenant, "members").await?;
    let identifiers = count(&state.store, tenant, "member_identifiers").await?;
    let audit = count(&state.store, tenant, "audit_log").await?;
    println!("stored: {members} members, {identifiers} identifiers");
    ensure!(
        first.rejected == invalid,
        "every invalid row is rejected, nothing else"
    );
    ensure!(
        u64::try_from(members)? == first.created,
        "members stored = members created"
    );

    let (second, seconds) = run_once(&state, tenant, &file, batch_rows).await?;
    print("second run", &second, seconds);
    ensure!(
        second.created == 0 && second.merged == 0,
        "the second run created or changed members"
    );
    ensure!(
        second.unchanged == rows - invalid,
        "every valid row is unchanged"
    );
    ensure!(second.rejected == invalid);
    let after = (
        count(&state.store, tenant, "members").await?,
        count(&state.store, tenant, "member_identifiers").await?,
        count(&state.store, tenant, "audit_log").await?,
    );
    if after != (members, identifiers, audit) {
        bail!("the second run changed the database: {after:?}");
    }
    println!("second run changed nothing: OK");
    state.store.close().await;
    drop(data_dir);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{generate, phone};

    #[test]
    fn generated_phones_are_distinct_mobiles() {
        let phones: std::collections::HashSet<String> = (1..=100_000).map(phone).collect();
        assert_eq!(phones.len(), 100_000);
        assert!(phones.iter().all(|p| p.len() == 11 && p.starts_with('1')));
    }

    #[test]
    fn the_generated_file_has_the_announced_shape() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.csv");
        let (rows, invalid) = generate(&file, 2_000).unwrap();
        assert_eq!((rows, invalid), (2_000, 2));
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(text.lines().count(), 2_001);
    }
}
