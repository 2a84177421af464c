//! Records to store: valid domain values with fresh ids, parsed the way the API edge parses them.

use crate::harness::TestDb;
use huiyuan_domain::audit::AuditEntry;
use huiyuan_domain::auth::{DataScope, Permission, PermissionSet, Username};
use huiyuan_domain::credentials::{ApiKey, Role, StaffAccount};
use huiyuan_domain::ids::{
    ApiKeyId, AuditEntryId, ChannelId, FormatId, RoleId, StaffId, StoreId, TenantId,
};
use huiyuan_domain::org::{
    Channel, ChannelKind, Code, Format, Name, Store, StoreKind, Tenant, TimeZoneName,
};
use huiyuan_store::{org, tenants, utc_now};
use time::OffsetDateTime;
use uuid::Uuid;

pub fn code(raw: &str) -> Code {
    Code::parse("code", raw).expect("a valid code")
}

pub fn name(raw: &str) -> Name {
    Name::parse("name", raw).expect("a valid name")
}

pub fn tenant(slug: &str) -> Tenant {
    Tenant {
        id: TenantId::new(),
        slug: code(slug),
        name: name(&format!("Tenant {slug}")),
        time_zone: TimeZoneName::default_zone(),
        created_at: utc_now(),
    }
}

pub fn format(code_text: &str) -> Format {
    let now = utc_now();
    Format {
        id: FormatId::new(),
        code: code(code_text),
        name: name(&format!("业态 {code_text}")),
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

pub fn store(format_id: FormatId, code_text: &str) -> Store {
    let now = utc_now();
    Store {
        id: StoreId::new(),
        format_id,
        code: code(code_text),
        name: name(&format!("门店 {code_text}")),
        kind: StoreKind::Store,
        address: format!("{code_text} Nanjing Road"),
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

pub fn channel(code_text: &str, format_id: Option<FormatId>) -> Channel {
    let now = utc_now();
    Channel {
        id: ChannelId::new(),
        code: code(code_text),
        name: name(&format!("Channel {code_text}")),
        kind: ChannelKind::MiniProgram,
        format_id,
        app_id: Some("wx0123456789abcdef".to_owned()),
        archived: false,
        created_at: now,
        updated_at: now,
    }
}

pub fn role(name_text: &str, permissions: &[Permission]) -> Role {
    let now = utc_now();
    Role {
        id: RoleId::new(),
        name: name(name_text),
        permissions: permissions.iter().copied().collect(),
        builtin: false,
        created_at: now,
        updated_at: now,
    }
}

pub fn staff(username: &str, role_id: RoleId, scope: DataScope) -> StaffAccount {
    let now = utc_now();
    StaffAccount {
        id: StaffId::new(),
        username: Username::parse("username", username).expect("a valid username"),
        display_name: name(&format!("Staff {username}")),
        role_id,
        scope,
        active: true,
        created_at: now,
        updated_at: now,
    }
}

pub fn api_key(name_text: &str, channel_id: ChannelId, store_id: Option<StoreId>) -> ApiKey {
    ApiKey {
        id: ApiKeyId::new(),
        name: name(name_text),
        channel_id,
        store_id,
        permissions: Permission::CHANNEL_DEFAULT
            .iter()
            .copied()
            .collect::<PermissionSet>(),
        key_prefix: "hyk_abc".to_owned(),
        created_by: Some(Uuid::now_v7()),
        created_at: utc_now(),
        revoked_at: None,
        last_used_at: None,
    }
}

pub fn audit_entry(
    actor_id: Option<Uuid>,
    action: &str,
    target: (&str, &str),
    at: OffsetDateTime,
) -> AuditEntry {
    AuditEntry {
        id: AuditEntryId::new(),
        actor_kind: if actor_id.is_some() {
            "staff"
        } else {
            "system"
        }
        .to_owned(),
        actor_id,
        credential_id: actor_id.map(|_| Uuid::now_v7()),
        action: action.to_owned(),
        target_type: target.0.to_owned(),
        target_id: target.1.to_owned(),
        summary: serde_json::json!({ "name": "门店 A", "amount_fen": 1200, "tags": ["a", "b"] }),
        request_id: Some(format!("req-{}", Uuid::now_v7().simple())),
        created_at: at,
    }
}

/// A slug unique across tests that share one database server.
pub fn unique_slug(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

/// Stores a new tenant and returns its id.
pub async fn seed_tenant(db: &TestDb) -> TenantId {
    let tenant = tenant(&unique_slug("t"));
    let mut s = db.write().await;
    tenants::insert(&mut s, &tenant)
        .await
        .expect("insert tenant");
    s.commit().await.unwrap();
    tenant.id
}

/// Stores a new format of `tenant`.
pub async fn seed_format(db: &TestDb, tenant: TenantId, code_text: &str) -> Format {
    let format = format(code_text);
    let mut s = db.write().await;
    org::insert_format(&mut s, tenant, &format)
        .await
        .expect("insert format");
    s.commit().await.unwrap();
    format
}

/// Stores a new store of `format`.
pub async fn seed_store(
    db: &TestDb,
    tenant: TenantId,
    format_id: FormatId,
    code_text: &str,
) -> Store {
    let store = store(format_id, code_text);
    let mut s = db.write().await;
    org::insert_store(&mut s, tenant, &store)
        .await
        .expect("insert store");
    s.commit().await.unwrap();
    store
}

/// Stores a new channel, group-wide or of one format.
pub async fn seed_channel(
    db: &TestDb,
    tenant: TenantId,
    code_text: &str,
    format_id: Option<FormatId>,
) -> Channel {
    let channel = channel(code_text, format_id);
    let mut s = db.write().await;
    org::insert_channel(&mut s, tenant, &channel)
        .await
        .expect("insert channel");
    s.commit().await.unwrap();
    channel
}
