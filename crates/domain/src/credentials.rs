//! Accounts and credentials: roles, staff accounts, channel API keys, and the bearer token format.
//!
//! A token names its tenant in clear (`hys_<tenant>_<secret>` for staff sessions,
//! `hyk_<tenant>_<secret>` for API keys) so it is looked up by `(tenant_id, hash)`: every key stays
//! tenant-first, as distributed PostgreSQL requires. Only the SHA-256 of a token is stored.

use crate::auth::{DataScope, PermissionSet, Username};
use crate::ids::{ApiKeyId, ChannelId, RoleId, StaffId, StoreId, TenantId};
use crate::org::Name;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// A named set of permissions. Built-in roles are created with each tenant and cannot be edited.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Role {
    pub id: RoleId,
    pub name: Name,
    pub permissions: PermissionSet,
    pub builtin: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Name of the built-in role holding every permission.
pub const ADMIN_ROLE: &str = "admin";

/// A staff account; the password hash never leaves the storage layer's callers.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct StaffAccount {
    pub id: StaffId,
    pub username: Username,
    pub display_name: Name,
    pub role_id: RoleId,
    pub scope: DataScope,
    pub active: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A channel API key as listed: never the key itself, only its first characters.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: Name,
    pub channel_id: ChannelId,
    /// A key bound to a store acts with that store's data scope.
    pub store_id: Option<StoreId>,
    pub permissions: PermissionSet,
    /// The key's first characters, to tell keys apart.
    pub key_prefix: String,
    pub created_by: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// Which kind of credential a bearer token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    StaffSession,
    ApiKey,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::StaffSession => "hys",
            TokenKind::ApiKey => "hyk",
        }
    }
}

/// Length of a token's secret part in hex digits (256 bits).
const SECRET_HEX_LEN: usize = 64;

/// Formats a token from its parts; `secret` is 32 random bytes.
pub fn format_token(kind: TokenKind, tenant_id: TenantId, secret: &[u8; 32]) -> String {
    let mut hex = String::with_capacity(SECRET_HEX_LEN);
    for byte in secret {
        hex.push_str(&format!("{byte:02x}"));
    }
    format!("{}_{}_{hex}", kind.prefix(), tenant_id.0.simple())
}

/// Splits a bearer token into its kind and tenant; `None` for anything this server never issued.
pub fn parse_token(token: &str) -> Option<(TokenKind, TenantId)> {
    let mut parts = token.split('_');
    let kind = match parts.next()? {
        "hys" => TokenKind::StaffSession,
        "hyk" => TokenKind::ApiKey,
        _ => return None,
    };
    let tenant = Uuid::try_parse(parts.next()?).ok()?;
    let secret = parts.next()?;
    let well_formed =
        secret.len() == SECRET_HEX_LEN && secret.bytes().all(|b| b.is_ascii_hexdigit());
    if !well_formed || parts.next().is_some() {
        return None;
    }
    Some((kind, TenantId(tenant)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let tenant = TenantId::new();
        let token = format_token(TokenKind::ApiKey, tenant, &[7u8; 32]);
        assert_eq!(parse_token(&token), Some((TokenKind::ApiKey, tenant)));
        assert_eq!(
            parse_token(&token.replacen("hyk", "hys", 1)),
            Some((TokenKind::StaffSession, tenant))
        );
        assert_eq!(parse_token(&token[..token.len() - 1]), None);
        assert_eq!(parse_token(&format!("{token}_x")), None);
        assert_eq!(parse_token("Bearer nonsense"), None);
        assert_eq!(parse_token(""), None);
    }
}
