//! Typed identifiers. Every key is a UUIDv7, so keys sort by creation time and inserts never
//! contend on one hot index page when the tables are distributed.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// Declares a newtype id over a UUIDv7; one declaration per entity keeps ids from being mixed up.
macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::from_str(text).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

typed_id!(
    /// A tenant (集团): the unit of isolation. Every row carries one.
    TenantId
);
typed_id!(
    /// A business format (业态) such as retail, hotel or dining.
    FormatId
);
typed_id!(
    /// A store (门店) or mall merchant (商户).
    StoreId
);
typed_id!(
    /// A sales or service channel (POS, mini-program, app …).
    ChannelId
);
typed_id!(
    /// A staff account.
    StaffId
);
typed_id!(
    /// A role: a named set of permissions.
    RoleId
);
typed_id!(
    /// A channel API key.
    ApiKeyId
);
typed_id!(
    /// A staff login session (bearer token).
    SessionId
);
typed_id!(
    /// An audit log entry.
    AuditEntryId
);
typed_id!(
    /// A member (会员).
    MemberId
);
typed_id!(
    /// An order (a sale at a till or online), with its lines, payments and refunds.
    OrderId
);
typed_id!(
    /// A points lot: the points of one accrual, with their own availability and expiry.
    LotId
);
typed_id!(
    /// A points-mall catalogue item (a reward).
    RewardId
);
