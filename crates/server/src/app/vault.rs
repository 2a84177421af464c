//! Secrets that protect members' personal information: AEAD encryption of PII at rest (each value
//! names the key it was sealed with, so keys can rotate), keyed blind indexes for exact look-ups
//! without decrypting, and the HMAC that signs member codes (一客一码).
//!
//! The keyring lives in a JSON file (default `<data_dir>/keyring.json`, created on first start with
//! mode 0600). Every node sharing one database must use the same file; back it up with the
//! database: without it the personal data cannot be read.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use huiyuan_domain::ids::{MemberId, TenantId};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::path::Path;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// The stored keyring. Keys are 32 random bytes, base64.
#[derive(Clone, Serialize, Deserialize)]
pub struct Keyring {
    /// Id of the key new values are sealed with.
    pub active: u32,
    pub pii_keys: BTreeMap<u32, String>,
    pub blind_index_key: String,
    pub member_code_key: String,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.pii_keys.keys())
            .finish_non_exhaustive()
    }
}

fn random_key() -> String {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    STANDARD.encode(key)
}

impl Keyring {
    pub fn generate() -> Self {
        Self {
            active: 1,
            pii_keys: BTreeMap::from([(1, random_key())]),
            blind_index_key: random_key(),
            member_code_key: random_key(),
        }
    }

    /// Adds a fresh key and makes it the active one; returns its id.
    pub fn rotate(&mut self) -> u32 {
        let id = self.pii_keys.keys().max().copied().unwrap_or(0) + 1;
        self.pii_keys.insert(id, random_key());
        self.active = id;
        id
    }

    /// Reads the keyring, creating it (readable by the owner only) when the file does not exist.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        if path.exists() {
            let text = std::fs::read_to_string(path)?;
            return Ok(serde_json::from_str(&text)?);
        }
        let keyring = Self::generate();
        keyring.save(path)?;
        tracing::warn!(path = %path.display(), "created a new keyring; back it up with the database");
        Ok(keyring)
    }

    /// Writes atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, serde_json::to_vec_pretty(self)?)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
        }
        std::fs::rename(&temporary, path)?;
        Ok(())
    }
}

/// Why a stored value or a code could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("malformed sealed value")]
    Malformed,
    #[error("sealed with unknown key {0}")]
    UnknownKey(u32),
    #[error("authentication failed")]
    Forged,
    #[error("expired")]
    Expired,
}

/// The keys in usable form.
#[derive(Clone)]
pub struct Vault {
    active: u32,
    ciphers: BTreeMap<u32, XChaCha20Poly1305>,
    /// HMACs already keyed: cloning one skips hashing the padded key for every value, which
    /// the import does ten times a row.
    blind_mac: HmacSha256,
    code_mac: HmacSha256,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Length of a blind index in bytes (hex doubles it): 128 bits keep collisions out of reach.
const BLIND_INDEX_BYTES: usize = 16;
/// Bytes of HMAC kept in a member code: 80 bits, too many to guess within a code's lifetime.
const CODE_TAG_BYTES: usize = 10;
const CODE_PREFIX: &str = "M1";
/// Prefix of coupon QR payloads.
const COUPON_QR_PREFIX: &str = "C1";

impl Vault {
    pub fn new(keyring: &Keyring) -> anyhow::Result<Self> {
        let decode = |b64: &str| -> anyhow::Result<Vec<u8>> {
            let key = STANDARD.decode(b64)?;
            anyhow::ensure!(key.len() == 32, "keyring keys must be 32 bytes");
            Ok(key)
        };
        let mut ciphers = BTreeMap::new();
        for (id, key) in &keyring.pii_keys {
            let key = decode(key)?;
            ciphers.insert(
                *id,
                XChaCha20Poly1305::new_from_slice(&key)
                    .map_err(|_| anyhow::anyhow!("bad key length"))?,
            );
        }
        anyhow::ensure!(
            ciphers.contains_key(&keyring.active),
            "the active key {} is not in the keyring",
            keyring.active
        );
        let keyed = |key: Vec<u8>| {
            <HmacSha256 as Mac>::new_from_slice(&key)
                .map_err(|_| anyhow::anyhow!("HMAC takes any key length"))
        };
        Ok(Self {
            active: keyring.active,
            ciphers,
            blind_mac: keyed(decode(&keyring.blind_index_key)?)?,
            code_mac: keyed(decode(&keyring.member_code_key)?)?,
        })
    }

    /// A throwaway vault for tests.
    pub fn ephemeral() -> Self {
        Self::new(&Keyring::generate())
            .unwrap_or_else(|_| unreachable!("a generated keyring is valid"))
    }

    pub fn active_key(&self) -> u32 {
        self.active
    }

    /// `k<key id>.<base64url(nonce ‖ ciphertext)>`. The 192-bit nonce is random, from the
    /// thread's CSPRNG (seeded once from the OS, no system call per value).
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let cipher = &self.ciphers[&self.active];
        // Nonce, then plaintext encrypted in place with its tag appended: one buffer.
        let mut payload = Vec::with_capacity(24 + plaintext.len() + 16);
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(plaintext.as_bytes());
        // Encryption with a valid key and nonce cannot fail for in-memory buffers.
        match cipher.encrypt_in_place_detached(&XNonce::from(nonce), b"", &mut payload[24..]) {
            Ok(tag) => payload.extend_from_slice(&tag),
            Err(_) => payload.truncate(24),
        }
        let mut sealed = String::with_capacity(8 + (payload.len() * 4).div_ceil(3));
        sealed.push('k');
        sealed.push_str(&self.active.to_string());
        sealed.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut sealed);
        sealed
    }

    pub fn open(&self, stored: &str) -> Result<String, VaultError> {
        let (key_id, payload) = parse_sealed(stored)?;
        let cipher = self
            .ciphers
            .get(&key_id)
            .ok_or(VaultError::UnknownKey(key_id))?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| VaultError::Malformed)?;
        if bytes.len() < 24 {
            return Err(VaultError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| VaultError::Malformed)?;
        let plain = cipher
            .decrypt(&XNonce::from(nonce), ciphertext)
            .map_err(|_| VaultError::Forged)?;
        String::from_utf8(plain).map_err(|_| VaultError::Malformed)
    }

    /// Whether a value was sealed with an older key (for `rotate-keys`).
    pub fn is_stale(&self, stored: &str) -> bool {
        parse_sealed(stored).is_ok_and(|(key_id, _)| key_id != self.active)
    }

    /// A keyed, deterministic fingerprint of `value` in `domain` (e.g. `phone`): equal inputs give
    /// equal indexes, but nobody without the key can compute or reverse one.
    pub fn blind_index(&self, domain: &str, value: &str) -> String {
        let mut mac = self.blind_mac.clone();
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..BLIND_INDEX_BYTES])
    }

    /// Search tokens for a name: the blind index of each prefix of one to four characters (a
    /// surname alone finds the family; longer prefixes narrow it), case-folded.
    pub fn name_tokens(&self, name: &str) -> Vec<String> {
        let folded: Vec<char> = name
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        (1..=folded.len().min(4))
            .map(|n| self.blind_index("name_prefix", &folded[..n].iter().collect::<String>()))
            .collect()
    }

    /// The token a name-prefix search looks up (`None` for an empty query).
    pub fn name_query_token(&self, prefix: &str) -> Option<String> {
        let folded: Vec<char> = prefix
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| !c.is_whitespace())
            .take(4)
            .collect();
        (!folded.is_empty())
            .then(|| self.blind_index("name_prefix", &folded.iter().collect::<String>()))
    }

    /// A member code valid until `expires_unix`: `M1` + base64url(member id ‖ expiry ‖ tag).
    pub fn sign_member_code(
        &self,
        tenant: TenantId,
        member: MemberId,
        expires_unix: u32,
    ) -> String {
        let mut payload = member.0.as_bytes().to_vec();
        payload.extend_from_slice(&expires_unix.to_be_bytes());
        let tag = self.code_tag(tenant, &payload);
        payload.extend_from_slice(&tag);
        format!("{CODE_PREFIX}{}", URL_SAFE_NO_PAD.encode(payload))
    }

    /// The member a code names, if it is genuine for this tenant and not expired at `now_unix`.
    pub fn verify_member_code(
        &self,
        tenant: TenantId,
        code: &str,
        now_unix: i64,
    ) -> Result<MemberId, VaultError> {
        let encoded = code
            .trim()
            .strip_prefix(CODE_PREFIX)
            .ok_or(VaultError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| VaultError::Malformed)?;
        if bytes.len() != 16 + 4 + CODE_TAG_BYTES {
            return Err(VaultError::Malformed);
        }
        let (payload, tag) = bytes.split_at(20);
        let expected = self.code_tag(tenant, payload);
        if !constant_time_eq(&expected, tag) {
            return Err(VaultError::Forged);
        }
        let expires = u32::from_be_bytes([payload[16], payload[17], payload[18], payload[19]]);
        if i64::from(expires) <= now_unix {
            return Err(VaultError::Expired);
        }
        Uuid::from_slice(&payload[..16])
            .map(MemberId)
            .map_err(|_| VaultError::Malformed)
    }

    /// The QR payload of a coupon code: `C1.<code>.<tag>`, the tag an HMAC of the tenant and the
    /// code, so a till can tell a genuine coupon QR from a typed or forged one.
    pub fn sign_coupon_code(&self, tenant: TenantId, code: &str) -> String {
        let tag = self.coupon_tag(tenant, code);
        format!("{COUPON_QR_PREFIX}.{code}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The code a coupon QR payload carries, if its tag is genuine for this tenant.
    pub fn verify_coupon_qr(&self, tenant: TenantId, payload: &str) -> Result<String, VaultError> {
        let rest = payload
            .trim()
            .strip_prefix(COUPON_QR_PREFIX)
            .and_then(|rest| rest.strip_prefix('.'))
            .ok_or(VaultError::Malformed)?;
        let (code, tag) = rest.split_once('.').ok_or(VaultError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| VaultError::Malformed)?;
        if constant_time_eq(&self.coupon_tag(tenant, code), &tag) {
            Ok(code.to_owned())
        } else {
            Err(VaultError::Forged)
        }
    }

    fn coupon_tag(&self, tenant: TenantId, code: &str) -> Vec<u8> {
        let mut mac = self.code_mac.clone();
        mac.update(b"coupon-code\0");
        mac.update(tenant.0.as_bytes());
        mac.update(code.as_bytes());
        mac.finalize().into_bytes()[..CODE_TAG_BYTES].to_vec()
    }

    fn code_tag(&self, tenant: TenantId, payload: &[u8]) -> Vec<u8> {
        let mut mac = self.code_mac.clone();
        mac.update(b"member-code\0");
        mac.update(tenant.0.as_bytes());
        mac.update(payload);
        mac.finalize().into_bytes()[..CODE_TAG_BYTES].to_vec()
    }
}

fn parse_sealed(stored: &str) -> Result<(u32, &str), VaultError> {
    let rest = stored.strip_prefix('k').ok_or(VaultError::Malformed)?;
    let (id, payload) = rest.split_once('.').ok_or(VaultError::Malformed)?;
    Ok((id.parse().map_err(|_| VaultError::Malformed)?, payload))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_round_trips_and_rejects_tampering() {
        let vault = Vault::ephemeral();
        let sealed = vault.seal("+8613800138000");
        assert!(!sealed.contains("13800138000"));
        assert_ne!(
            sealed,
            vault.seal("+8613800138000"),
            "fresh nonce each time"
        );
        assert_eq!(vault.open(&sealed).unwrap(), "+8613800138000");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(vault.open(&tampered).is_err());
        assert_eq!(vault.open("plain"), Err(VaultError::Malformed));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let mut keyring = Keyring::generate();
        let old = Vault::new(&keyring).unwrap();
        let sealed = old.seal("张三");
        assert_eq!(keyring.rotate(), 2);
        let new = Vault::new(&keyring).unwrap();
        assert!(new.is_stale(&sealed));
        assert_eq!(new.open(&sealed).unwrap(), "张三");
        assert!(!new.is_stale(&new.seal("张三")));
        assert_eq!(old.open(&new.seal("x")), Err(VaultError::UnknownKey(2)));
    }

    #[test]
    fn blind_indexes_are_keyed_and_domain_separated() {
        let (a, b) = (Vault::ephemeral(), Vault::ephemeral());
        assert_eq!(
            a.blind_index("phone", "+8613800138000"),
            a.blind_index("phone", "+8613800138000")
        );
        assert_ne!(
            a.blind_index("phone", "+8613800138000"),
            b.blind_index("phone", "+8613800138000")
        );
        assert_ne!(a.blind_index("phone", "x"), a.blind_index("email", "x"));
        assert_eq!(a.name_tokens("张三丰").len(), 3);
        assert_eq!(
            a.name_query_token("张三"),
            Some(a.name_tokens("张三丰")[1].clone())
        );
    }

    #[test]
    fn member_codes_expire_and_resist_forgery() {
        let vault = Vault::ephemeral();
        let (tenant, member) = (TenantId::new(), MemberId::new());
        let code = vault.sign_member_code(tenant, member, 1_000);
        assert_eq!(vault.verify_member_code(tenant, &code, 999), Ok(member));
        assert_eq!(
            vault.verify_member_code(tenant, &code, 1_000),
            Err(VaultError::Expired)
        );
        assert_eq!(
            vault.verify_member_code(TenantId::new(), &code, 999),
            Err(VaultError::Forged)
        );
        assert_eq!(
            Vault::ephemeral().verify_member_code(tenant, &code, 999),
            Err(VaultError::Forged)
        );
        // Extending the expiry invalidates the tag.
        let later = vault.sign_member_code(tenant, member, 5_000);
        let mut forged = URL_SAFE_NO_PAD.decode(&later[2..]).unwrap();
        forged[20..].copy_from_slice(&URL_SAFE_NO_PAD.decode(&code[2..]).unwrap()[20..]);
        let forged = format!("M1{}", URL_SAFE_NO_PAD.encode(forged));
        assert_eq!(
            vault.verify_member_code(tenant, &forged, 999),
            Err(VaultError::Forged)
        );
        assert_eq!(
            vault.verify_member_code(tenant, "M1!!", 0),
            Err(VaultError::Malformed)
        );
    }
}
