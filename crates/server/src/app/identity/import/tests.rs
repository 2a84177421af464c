use crate::app::identity::import::cleaning::{Clean, Refusal, clean_row, clean_text};
use crate::app::identity::import::{
    Columns, CsvRows, Field, SourceRow, normalise_date, parse_gender, parse_mapping, read_csv_text,
    similar_names,
};
use crate::app::identity::policy::IdentityPolicy;
use crate::app::vault::Vault;
use huiyuan_domain::identity::Gender;
use std::collections::BTreeMap;
use time::macros::date;

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn read(text: &str) -> Vec<SourceRow> {
    let mut source = CsvRows::open(text.as_bytes(), &[]).unwrap();
    source.next_batch(100).unwrap()
}

fn clean(text: &str) -> Vec<Result<Clean, Refusal>> {
    let mut source = CsvRows::open(text.as_bytes(), &[]).unwrap();
    let rows = source.next_batch(100).unwrap();
    let vault = Vault::ephemeral();
    let policy = IdentityPolicy::new(&["phone:13800000000".into()], &BTreeMap::new()).unwrap();
    rows.iter()
        .map(|row| {
            clean_row(
                source.columns(),
                row,
                &vault,
                &policy,
                date!(2026 - 11 - 23),
            )
        })
        .collect()
}

#[test]
fn headers_map_by_default_in_english_and_chinese() {
    let headers = strings(&[
        "\u{feff}手机号",
        "Card No",
        "姓名",
        "生日",
        "MOBILE_2",
        "备注",
    ]);
    let columns = Columns::resolve(&headers, &[]).unwrap();
    let fields: Vec<Option<String>> = columns.mapped().into_iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        [
            Some("phone"),
            Some("card_no"),
            Some("name"),
            Some("birthday"),
            None,
            None
        ]
        .map(|f| f.map(str::to_owned))
    );
}

#[test]
fn mappings_rename_ignore_and_are_checked() {
    let headers = strings(&["会员手机", "电话", "客户名称"]);
    let mapping = parse_mapping(&strings(&[
        "会员手机=phone",
        " 电话 = ignore",
        "客户名称=name",
    ]))
    .unwrap();
    let columns = Columns::resolve(&headers, &mapping).unwrap();
    assert_eq!(columns.position.get(&Field::Phone), Some(&0));
    assert_eq!(columns.position.get(&Field::Name), Some(&2));
    assert!(parse_mapping(&strings(&["phone"])).is_err());
    let code = |headers: &[&str], mapping: &[(&str, &str)]| {
        let mapping: Vec<(String, String)> = mapping
            .iter()
            .map(|(h, f)| ((*h).to_owned(), (*f).to_owned()))
            .collect();
        Columns::resolve(&strings(headers), &mapping)
            .unwrap_err()
            .code
    };
    assert_eq!(code(&["手机号", "电话"], &[]), "duplicate_field");
    assert_eq!(code(&["phone"], &[("mobile", "phone")]), "unknown_header");
    assert_eq!(code(&["phone"], &[("phone", "fax")]), "unknown_field");
    assert_eq!(code(&["name", "city"], &[]), "no_identifier_column");
    assert_eq!(
        code(&["phone"], &[("phone", "ignore")]),
        "no_identifier_column"
    );
}

#[test]
fn dates_in_legacy_spellings() {
    for raw in [
        "1990-05-01",
        "1990/05/01",
        "19900501",
        "1990/5/1",
        "1990-5-1",
        "1990.5.1",
        "1990年5月1日",
        "1990/5/1 0:00:00",
        "1990-05-01T00:00:00",
    ] {
        assert_eq!(normalise_date(raw).as_deref(), Some("1990-05-01"), "{raw}");
    }
    assert_eq!(normalise_date("0000-00-00").as_deref(), Some(""));
    for raw in ["May 1 1990", "90/5/1", "1990/5", "199051"] {
        assert_eq!(normalise_date(raw), None, "{raw}");
    }
}

#[test]
fn gender_words() {
    for raw in ["男", "M", "male", "Male", "先生", "1"] {
        assert_eq!(parse_gender(raw), Some(Gender::Male), "{raw}");
    }
    for raw in ["女", "f", "FEMALE", "女士", "2"] {
        assert_eq!(parse_gender(raw), Some(Gender::Female), "{raw}");
    }
    assert_eq!(parse_gender("未知"), Some(Gender::Unknown));
    assert_eq!(parse_gender("x"), None);
}

#[test]
fn values_are_trimmed_and_empty_means_absent() {
    assert_eq!(clean_text("  张三\u{3000}"), Some("张三"));
    for raw in ["", "   ", "NULL", "null", "\\N"] {
        assert_eq!(clean_text(raw), None, "{raw:?}");
    }
}

#[test]
fn rows_clean_like_registrations() {
    let rows = clean(
        "手机号,邮箱,姓名,性别,生日,身份证号,门店编码\n\
         +86 138-0013-8000, Zhang.San@Example.COM , 张三 ,男,1990/5/1,11010519491231002x,SH-001\n\
         NULL,,李四,,,,\n\
         13800000000,,王五,,,,\n\
         12345,nope,,x,1990-13-01,110105194912310021,门店\n",
    );
    let first = rows[0].as_ref().unwrap();
    let keys: Vec<(&str, &str)> = first
        .identifiers
        .iter()
        .map(|k| (k.identifier.kind.as_str(), k.identifier.key.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("phone", "+8613800138000"),
            ("email", "zhang.san@example.com")
        ]
    );
    assert!(
        first
            .identifiers
            .iter()
            .all(|k| k.matchable && k.sealed.starts_with('k'))
    );
    assert_eq!(first.profile.name.as_deref(), Some("张三"));
    assert_eq!(first.profile.gender, Some(Gender::Male));
    assert_eq!(first.profile.birthday, Some(date!(1990 - 05 - 01)));
    assert_eq!(
        first.profile.id_card_no.as_deref(),
        Some("11010519491231002X")
    );
    assert_eq!(first.store_code.as_deref(), Some("SH-001"));
    assert!(first.sealed.name_enc.is_some() && first.sealed.name_index.is_some());
    assert_eq!(first.tokens.len(), 2, "one token per name prefix");

    assert_eq!(rows[1].as_ref().unwrap_err().code, "no_identifier");
    assert_eq!(
        rows[2].as_ref().unwrap_err().code,
        "no_matchable_identifier"
    );
    let refusal = rows[3].as_ref().unwrap_err();
    assert_eq!(refusal.code, "invalid_value");
    for field in [
        "phone (手机号)",
        "email (邮箱)",
        "gender (性别)",
        "birthday (生日)",
        "id_card_no (身份证号)",
        "store_code (门店编码)",
    ] {
        assert!(
            refusal.reason.contains(field),
            "{field} in {}",
            refusal.reason
        );
    }
}

#[test]
fn rows_report_the_line_they_start_on() {
    let rows = read("phone,name\r\n1,a\r\n\r\n2,\"b\r\nc\"\r\n3,d\r\n\r\n\r\n4,e");
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, [2, 4, 6, 9]);
    let rows = read("phone,name\n1,a\n,\n2,b\n");
    assert_eq!(
        rows.iter().map(|r| r.line).collect::<Vec<_>>(),
        [2, 4],
        "blank rows are skipped"
    );
    let rows = read("phone,name\n1,a,extra\n2\n");
    assert_eq!(
        rows[0].malformed.as_deref(),
        Some("has 3 fields; the header has 2")
    );
    assert_eq!(
        rows[1].malformed, None,
        "missing trailing fields read as empty"
    );
}

#[test]
fn text_that_is_not_utf8_is_refused() {
    let gbk_header = b"\xca\xd6\xbb\xfa\xba\xc5\n138\n";
    assert_eq!(
        CsvRows::open(&gbk_header[..], &[]).err().unwrap().code,
        "not_utf8"
    );
    let mut source = CsvRows::open(&b"phone,name\n13800138000,\xd5\xc5\n"[..], &[]).unwrap();
    let rows = source.next_batch(10).unwrap();
    assert_eq!(rows[0].malformed.as_deref(), Some("not UTF-8 text"));
}

#[test]
fn the_api_row_limit_holds() {
    assert!(read_csv_text("phone\n1\n2\n", &[], 2).is_ok());
    assert_eq!(
        read_csv_text("phone\n1\n2\n3\n", &[], 2).unwrap_err().code,
        "too_many_rows"
    );
}

#[test]
fn similar_names_allow_a_typo_but_not_a_sibling() {
    assert!(similar_names("张三", "张 三"));
    assert!(similar_names("张三", "张三丰"));
    assert!(similar_names("张三丰", "张三风"));
    assert!(similar_names("Li Lei", "lilei"));
    assert!(!similar_names("张伟", "张强"));
    assert!(!similar_names("张", "张三"));
    assert!(!similar_names("", "张三"));
    assert!(!similar_names("欧阳修文", "欧阳文修"));
}
