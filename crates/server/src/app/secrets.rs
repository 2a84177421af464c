//! Passwords and tokens. Passwords are argon2id-hashed off the async runtime (hashing is slow on
//! purpose); tokens carry 256 random bits, so a plain SHA-256 of them is a safe lookup key.

use crate::app::error::{ApiError, ApiResult};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use huiyuan_domain::credentials::{TokenKind, format_token};
use huiyuan_domain::ids::TenantId;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// argon2id with the given memory cost (KiB), two passes, one lane.
fn hasher(memory_kib: u32) -> ApiResult<Argon2<'static>> {
    let params = Params::new(memory_kib, 2, 1, None).map_err(ApiError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub async fn hash_password(password: String, memory_kib: u32) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(ApiError::internal)?;
        let hash = hasher(memory_kib)?
            .hash_password(password.as_bytes(), &salt)
            .map_err(ApiError::internal)?;
        Ok(hash.to_string())
    })
    .await
    .map_err(ApiError::internal)?
}

/// Verifies with the parameters recorded in the hash itself.
pub async fn verify_password(password: String, hash: String) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

/// A password hash nobody can match, verified against when the username is unknown so that the
/// answer takes as long as for a real account.
pub async fn dummy_hash(memory_kib: u32) -> ApiResult<String> {
    hash_password("no account has this password".to_owned(), memory_kib).await
}

/// A fresh token and the hash to store.
pub fn new_token(kind: TokenKind, tenant: TenantId) -> (String, String) {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format_token(kind, tenant, &secret);
    let hash = token_hash(&token);
    (token, hash)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A readable random password for generated admin accounts: 20 characters from an alphabet
/// without look-alikes (about 110 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_when_equal() {
        let hash = hash_password("correct horse battery".into(), 64)
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(
            verify_password("correct horse battery".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(
            !verify_password("wrong horse battery".into(), hash)
                .await
                .unwrap()
        );
    }

    #[test]
    fn tokens_are_unique_and_hashed() {
        let tenant = TenantId::new();
        let (a, hash_a) = new_token(TokenKind::ApiKey, tenant);
        let (b, _) = new_token(TokenKind::ApiKey, tenant);
        assert_ne!(a, b);
        assert_eq!(hash_a, token_hash(&a));
        assert_eq!(hash_a.len(), 64);
        assert_eq!(generate_password().len(), 20);
    }
}
