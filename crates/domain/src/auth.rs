//! Who may do what: permissions grouped into roles, and a data scope per account (whole tenant,
//! some formats, some stores, or a shopping guide's own members).
//!
//! One decision function serves every handler: [`DataScope::predicate`] turns a scope into a
//! [`ScopePredicate`] tree, which [`ScopePredicate::matches`] evaluates against one record and the
//! storage layer compiles into the `WHERE` clause of every list query — the same rule both ways.

use crate::ids::{ApiKeyId, ChannelId, FormatId, SessionId, StaffId, StoreId, TenantId};
use crate::org::wire_enum;
use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use utoipa::ToSchema;

wire_enum!(
    /// A permission a role grants. The catalogue is closed: roles naming anything else are rejected.
    Permission {
        OrgRead => "org:read",
        ConfigWrite => "config:write",
        StaffRead => "staff:read",
        StaffWrite => "staff:write",
        ApiKeysManage => "api_keys:manage",
        AuditRead => "audit:read",
        MembersRead => "members:read",
        MembersWrite => "members:write",
        PiiRead => "pii:read",
        PointsAdjust => "points:adjust",
        OrdersRead => "orders:read",
        OrdersWrite => "orders:write",
        CouponsRead => "coupons:read",
        CouponsWrite => "coupons:write",
        CouponsRedeem => "coupons:redeem",
        MallWrite => "mall:write",
        /// Quote, reserve, confirm and cancel checkouts (coupons and points at a till or online).
        CheckoutWrite => "checkout:write",
        SettlementRead => "settlement:read",
        SettlementWrite => "settlement:write",
        SegmentsWrite => "segments:write",
        JourneysWrite => "journeys:write",
        AnalyticsRead => "analytics:read",
    }
);

impl Permission {
    /// What a channel API key may do unless its creator narrows it: the calls a POS, mini-program
    /// or e-commerce integration makes.
    pub const CHANNEL_DEFAULT: &'static [Permission] = &[
        Permission::OrgRead,
        Permission::MembersRead,
        Permission::MembersWrite,
        Permission::OrdersRead,
        Permission::OrdersWrite,
        Permission::CouponsRead,
        Permission::CouponsRedeem,
        Permission::CheckoutWrite,
    ];
}

/// A set of permissions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    pub fn all() -> Self {
        Self(Permission::ALL.iter().copied().collect())
    }

    pub fn contains(&self, permission: Permission) -> bool {
        self.0.contains(&permission)
    }

    pub fn is_subset(&self, other: &PermissionSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    /// Parses wire names; each unknown name is reported at its index.
    pub fn parse(field: &str, names: &[String]) -> Result<Self, Vec<FieldError>> {
        let mut set = BTreeSet::new();
        let mut errors = Vec::new();
        for (index, name) in names.iter().enumerate() {
            match Permission::parse(&format!("{field}[{index}]"), name) {
                Ok(permission) => {
                    set.insert(permission);
                }
                Err(error) => errors.push(error),
            }
        }
        if errors.is_empty() {
            Ok(Self(set))
        } else {
            Err(errors)
        }
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Which records an account may see and change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataScope {
    /// Everything in the tenant (HQ).
    Tenant,
    /// Records of these formats (a format's operations team).
    Formats { format_ids: BTreeSet<FormatId> },
    /// Records of these stores (a store manager, a mall merchant, a store's POS key).
    Stores { store_ids: BTreeSet<StoreId> },
    /// A shopping guide (导购): only the members attributed to them, and their stores' setup.
    OwnMembers { store_ids: BTreeSet<StoreId> },
}

impl DataScope {
    pub fn kind(&self) -> &'static str {
        match self {
            DataScope::Tenant => "tenant",
            DataScope::Formats { .. } => "formats",
            DataScope::Stores { .. } => "stores",
            DataScope::OwnMembers { .. } => "own_members",
        }
    }

    /// Checks the shape; whether the ids exist in the tenant is the caller's (storage) concern.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        let empty = match self {
            DataScope::Tenant => false,
            DataScope::Formats { format_ids } => format_ids.is_empty(),
            DataScope::Stores { store_ids } | DataScope::OwnMembers { store_ids } => {
                store_ids.is_empty()
            }
        };
        if empty {
            return Err(FieldError::new(
                field,
                "required",
                "a scope limited to formats or stores must name at least one",
            ));
        }
        Ok(())
    }

    /// The one access rule, as a predicate over a record's placement.
    ///
    /// Group-wide records (no format, no store: shared channels, say) can be read by every scope
    /// but changed only by the tenant scope. A guide sees their stores' setup and, of member data,
    /// only the members attributed to them.
    pub fn predicate(
        &self,
        access: Access,
        class: RecordClass,
        me: Option<StaffId>,
    ) -> ScopePredicate {
        use ScopePredicate as P;
        let group_wide = || P::And(vec![P::FormatIsNull, P::StoreIsNull]);
        let readable = |own: ScopePredicate| match access {
            Access::Read => P::Or(vec![own, group_wide()]),
            Access::Write => own,
        };
        match self {
            DataScope::Tenant => P::Any,
            DataScope::Formats { format_ids } => readable(P::FormatIn(format_ids.clone())),
            DataScope::Stores { store_ids } => readable(P::StoreIn(store_ids.clone())),
            DataScope::OwnMembers { store_ids } => match (class, me) {
                (RecordClass::MemberData, Some(staff_id)) => P::GuideIs(staff_id),
                (RecordClass::MemberData, None) => P::Nothing,
                (RecordClass::Org, _) => readable(P::StoreIn(store_ids.clone())),
            },
        }
    }
}

/// Reading or changing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// Organisation setup, or data about members (which a guide sees only for their own members).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordClass {
    Org,
    MemberData,
}

/// Where a record sits in the organisation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub format_id: Option<FormatId>,
    pub store_id: Option<StoreId>,
    /// The shopping guide a member is attributed to.
    pub guide_id: Option<StaffId>,
}

impl Placement {
    pub fn group_wide() -> Self {
        Self::default()
    }

    pub fn format(format_id: FormatId) -> Self {
        Self {
            format_id: Some(format_id),
            ..Self::default()
        }
    }

    pub fn store(format_id: FormatId, store_id: StoreId) -> Self {
        Self {
            format_id: Some(format_id),
            store_id: Some(store_id),
            guide_id: None,
        }
    }
}

/// A filter tree over placements; evaluated in memory here and compiled to SQL by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScopePredicate {
    Any,
    Nothing,
    FormatIn(BTreeSet<FormatId>),
    StoreIn(BTreeSet<StoreId>),
    GuideIs(StaffId),
    FormatIsNull,
    StoreIsNull,
    And(Vec<ScopePredicate>),
    Or(Vec<ScopePredicate>),
}

impl ScopePredicate {
    pub fn matches(&self, placement: &Placement) -> bool {
        match self {
            ScopePredicate::Any => true,
            ScopePredicate::Nothing => false,
            ScopePredicate::FormatIn(ids) => {
                placement.format_id.is_some_and(|id| ids.contains(&id))
            }
            ScopePredicate::StoreIn(ids) => placement.store_id.is_some_and(|id| ids.contains(&id)),
            ScopePredicate::GuideIs(staff_id) => placement.guide_id == Some(*staff_id),
            ScopePredicate::FormatIsNull => placement.format_id.is_none(),
            ScopePredicate::StoreIsNull => placement.store_id.is_none(),
            ScopePredicate::And(parts) => parts.iter().all(|part| part.matches(placement)),
            ScopePredicate::Or(parts) => parts.iter().any(|part| part.matches(placement)),
        }
    }
}

/// The credential behind a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    Staff {
        staff_id: StaffId,
        session_id: SessionId,
    },
    ApiKey {
        key_id: ApiKeyId,
        channel_id: ChannelId,
    },
    /// The server itself: bootstrap, background jobs, CLI commands.
    System,
}

impl Actor {
    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Staff { .. } => "staff",
            Actor::ApiKey { .. } => "api_key",
            Actor::System => "system",
        }
    }

    /// The account acting (staff or key), for audit entries.
    pub fn actor_id(&self) -> Option<uuid::Uuid> {
        match self {
            Actor::Staff { staff_id, .. } => Some(staff_id.0),
            Actor::ApiKey { key_id, .. } => Some(key_id.0),
            Actor::System => None,
        }
    }

    /// The credential used (session or key), for audit entries and idempotency keys.
    pub fn credential_id(&self) -> Option<uuid::Uuid> {
        match self {
            Actor::Staff { session_id, .. } => Some(session_id.0),
            Actor::ApiKey { key_id, .. } => Some(key_id.0),
            Actor::System => None,
        }
    }
}

/// An authenticated caller: tenant, actor, permissions and data scope. Every access decision goes
/// through its methods.
#[derive(Clone, Debug)]
pub struct Principal {
    pub tenant_id: TenantId,
    pub actor: Actor,
    pub permissions: PermissionSet,
    /// Scope over organisation records (stores, channels …).
    pub scope: DataScope,
    /// Scope over member data. The same as `scope` for staff; for a channel API key it is the
    /// whole tenant — one member identity across every store — except a mall merchant's key,
    /// which sees only the merchant's own members.
    pub member_scope: DataScope,
}

/// Why access was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("missing permission {}", .0.as_str())]
    MissingPermission(Permission),
    #[error("outside the caller's data scope")]
    OutOfScope,
}

impl Principal {
    pub fn require(&self, permission: Permission) -> Result<(), Denied> {
        if self.permissions.contains(permission) {
            Ok(())
        } else {
            Err(Denied::MissingPermission(permission))
        }
    }

    /// For tenant-wide administration (staff, roles, keys): HQ only.
    pub fn require_tenant_scope(&self) -> Result<(), Denied> {
        if self.scope == DataScope::Tenant {
            Ok(())
        } else {
            Err(Denied::OutOfScope)
        }
    }

    pub fn staff_id(&self) -> Option<StaffId> {
        match self.actor {
            Actor::Staff { staff_id, .. } => Some(staff_id),
            _ => None,
        }
    }

    pub fn predicate(&self, access: Access, class: RecordClass) -> ScopePredicate {
        let scope = match class {
            RecordClass::Org => &self.scope,
            RecordClass::MemberData => &self.member_scope,
        };
        scope.predicate(access, class, self.staff_id())
    }

    pub fn permits(&self, access: Access, class: RecordClass, placement: &Placement) -> bool {
        self.predicate(access, class).matches(placement)
    }
}

/// A staff login name: 3–64 characters of lower-case ASCII letters, digits, `.`, `_`, `-`, `@`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let name = raw.trim().to_ascii_lowercase();
        if !(3..=64).contains(&name.len()) {
            return Err(FieldError::new(
                field,
                "invalid_length",
                "must be 3 to 64 characters",
            ));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
        {
            return Err(FieldError::new(
                field,
                "invalid_format",
                "may contain letters, digits, '.', '_', '-' and '@'",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

/// Shortest password accepted, in characters.
pub const PASSWORD_MIN_CHARS: usize = 10;
/// Longest password accepted, in bytes: argon2 input stays bounded.
pub const PASSWORD_MAX_BYTES: usize = 256;

/// Checks a new password against the policy; the value itself is never echoed back.
pub fn check_new_password(field: &str, password: &str) -> Result<(), FieldError> {
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(FieldError::new(
            field,
            "too_short",
            format!("must be at least {PASSWORD_MIN_CHARS} characters"),
        ));
    }
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {PASSWORD_MAX_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set<T: Ord + Clone>(items: &[T]) -> BTreeSet<T> {
        items.iter().cloned().collect()
    }

    #[test]
    fn tenant_scope_sees_everything() {
        let predicate = DataScope::Tenant.predicate(Access::Write, RecordClass::MemberData, None);
        assert!(predicate.matches(&Placement::store(FormatId::new(), StoreId::new())));
        assert!(predicate.matches(&Placement::group_wide()));
    }

    #[test]
    fn store_scope_reads_own_store_and_group_records_but_writes_only_own_store() {
        let (format, mine, other) = (FormatId::new(), StoreId::new(), StoreId::new());
        let scope = DataScope::Stores {
            store_ids: set(&[mine]),
        };
        let read = scope.predicate(Access::Read, RecordClass::Org, None);
        let write = scope.predicate(Access::Write, RecordClass::Org, None);
        assert!(read.matches(&Placement::store(format, mine)));
        assert!(!read.matches(&Placement::store(format, other)));
        assert!(read.matches(&Placement::group_wide()));
        assert!(!read.matches(&Placement::format(format)));
        assert!(write.matches(&Placement::store(format, mine)));
        assert!(!write.matches(&Placement::group_wide()));
    }

    #[test]
    fn format_scope_covers_all_stores_of_its_formats() {
        let (mine, other) = (FormatId::new(), FormatId::new());
        let scope = DataScope::Formats {
            format_ids: set(&[mine]),
        };
        let write = scope.predicate(Access::Write, RecordClass::Org, None);
        assert!(write.matches(&Placement::store(mine, StoreId::new())));
        assert!(write.matches(&Placement::format(mine)));
        assert!(!write.matches(&Placement::store(other, StoreId::new())));
    }

    #[test]
    fn guide_sees_only_own_members() {
        let (guide, colleague, store) = (StaffId::new(), StaffId::new(), StoreId::new());
        let scope = DataScope::OwnMembers {
            store_ids: set(&[store]),
        };
        let members = scope.predicate(Access::Read, RecordClass::MemberData, Some(guide));
        let mut placement = Placement::store(FormatId::new(), store);
        placement.guide_id = Some(guide);
        assert!(members.matches(&placement));
        placement.guide_id = Some(colleague);
        assert!(!members.matches(&placement));
        assert!(
            !scope
                .predicate(Access::Read, RecordClass::MemberData, None)
                .matches(&placement)
        );
        assert!(
            scope
                .predicate(Access::Read, RecordClass::Org, Some(guide))
                .matches(&placement)
        );
    }

    #[test]
    fn empty_limited_scopes_are_rejected() {
        assert!(DataScope::Tenant.validate("scope").is_ok());
        assert_eq!(
            DataScope::Stores {
                store_ids: BTreeSet::new()
            }
            .validate("scope")
            .unwrap_err()
            .code,
            "required"
        );
    }

    #[test]
    fn permissions_parse_and_report_unknown_names_by_index() {
        let parsed =
            PermissionSet::parse("permissions", &["members:read".into(), "pii:read".into()])
                .unwrap();
        assert!(parsed.contains(Permission::PiiRead));
        let errors = PermissionSet::parse("permissions", &["members:read".into(), "root".into()])
            .unwrap_err();
        assert_eq!(errors[0].field, "permissions[1]");
        assert_eq!(
            serde_json::to_string(&parsed).unwrap(),
            r#"["members:read","pii:read"]"#
        );
    }

    #[test]
    fn usernames_are_normalised() {
        assert_eq!(
            Username::parse("username", " Admin ").unwrap().as_str(),
            "admin"
        );
        assert_eq!(
            Username::parse("username", "ab").unwrap_err().code,
            "invalid_length"
        );
        assert_eq!(
            Username::parse("username", "a b c").unwrap_err().code,
            "invalid_format"
        );
    }

    #[test]
    fn password_policy() {
        assert_eq!(
            check_new_password("password", "short").unwrap_err().code,
            "too_short"
        );
        assert!(check_new_password("password", "long enough pass").is_ok());
        assert_eq!(
            check_new_password("password", &"x".repeat(257))
                .unwrap_err()
                .code,
            "too_long"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Placements drawn from a small universe of two formats with two stores each, and two guides.
        fn universe() -> (Vec<FormatId>, Vec<StoreId>, Vec<StaffId>) {
            (
                (0..2).map(|_| FormatId::new()).collect(),
                (0..4).map(|_| StoreId::new()).collect(),
                (0..2).map(|_| StaffId::new()).collect(),
            )
        }

        proptest! {
            /// Whatever the scope, anything it may change it may also read, and the tenant scope
            /// may do everything.
            #[test]
            fn writable_implies_readable(
                scope_kind in 0u8..4, picks in proptest::collection::vec(0usize..4, 1..4),
                format_pick in proptest::option::of(0usize..2), store_pick in proptest::option::of(0usize..4),
                guide_pick in proptest::option::of(0usize..2), me_pick in proptest::option::of(0usize..2),
                member_data in any::<bool>(),
            ) {
                let (formats, stores, guides) = universe();
                let scope = match scope_kind {
                    0 => DataScope::Tenant,
                    1 => DataScope::Formats { format_ids: picks.iter().map(|i| formats[i % 2]).collect() },
                    2 => DataScope::Stores { store_ids: picks.iter().map(|i| stores[*i]).collect() },
                    _ => DataScope::OwnMembers { store_ids: picks.iter().map(|i| stores[*i]).collect() },
                };
                let placement = Placement {
                    format_id: format_pick.map(|i| formats[i]),
                    store_id: store_pick.map(|i| stores[i]),
                    guide_id: guide_pick.map(|i| guides[i]),
                };
                let class = if member_data { RecordClass::MemberData } else { RecordClass::Org };
                let me = me_pick.map(|i| guides[i]);
                let write = scope.predicate(Access::Write, class, me).matches(&placement);
                let read = scope.predicate(Access::Read, class, me).matches(&placement);
                prop_assert!(!write || read);
                if scope == DataScope::Tenant {
                    prop_assert!(write && read);
                }
            }
        }
    }
}
