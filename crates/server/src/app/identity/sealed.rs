//! Moving a profile between its plain form and its stored form: personal fields sealed, with the
//! blind indexes that let exact matches (duplicate review, import) work without decrypting.

use crate::app::vault::{Vault, VaultError};
use huiyuan_domain::identity::{Gender, Profile};
use huiyuan_store::members::StoredMember;

/// Folds case and spacing so `Zhang San` and `zhangsan` index alike.
pub fn fold(value: &str) -> String {
    value
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '.' | '-' | ',' | '，'))
        .collect()
}

/// Writes the profile into the row: sealed personal fields, plain demographic ones.
pub fn seal_profile(vault: &Vault, profile: &Profile, row: &mut StoredMember) {
    row.name_enc = profile.name.as_deref().map(|name| vault.seal(name));
    row.name_index = profile
        .name
        .as_deref()
        .map(|name| vault.blind_index("name", &fold(name)));
    row.gender = profile.gender.map(|gender| gender.as_str().to_owned());
    row.birthday = profile.birthday;
    row.province = profile.province.clone();
    row.city = profile.city.clone();
    row.district = profile.district.clone();
    row.address_enc = profile
        .address
        .as_deref()
        .map(|address| vault.seal(address));
    row.address_index = profile
        .address
        .as_deref()
        .map(|address| vault.blind_index("address", &fold(address)));
    row.id_card_enc = profile.id_card_no.as_deref().map(|id| vault.seal(id));
    row.id_card_index = profile
        .id_card_no
        .as_deref()
        .map(|id| vault.blind_index("id_card", id));
}

/// Reads the profile back out of the row.
pub fn open_profile(vault: &Vault, row: &StoredMember) -> Result<Profile, VaultError> {
    let open =
        |sealed: &Option<String>| sealed.as_deref().map(|value| vault.open(value)).transpose();
    Ok(Profile {
        name: open(&row.name_enc)?,
        gender: row
            .gender
            .as_deref()
            .and_then(|g| Gender::parse("gender", g).ok()),
        birthday: row.birthday,
        province: row.province.clone(),
        city: row.city.clone(),
        district: row.district.clone(),
        address: open(&row.address_enc)?,
        id_card_no: open(&row.id_card_enc)?,
    })
}
