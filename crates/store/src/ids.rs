//! Typed ids at the SQL boundary. The domain's ids (`MemberId` …) carry no sqlx traits, because
//! the domain crate does no I/O, and the orphan rule keeps this crate from adding them. So a query
//! binds the bare UUID (`member.0`) and a row decodes one and converts it:
//! `#[sqlx(try_from = "Uuid")]` on a `NOT NULL` column, `#[sqlx(try_from = "NullableId")]` on a
//! nullable one. Deferred writes take typed ids directly through the `From` impls below.

use crate::deferred::Value;
use huiyuan_domain::ids::{LotId, MemberId, OrderId, RewardId};
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type};
use uuid::Uuid;

/// A nullable UUID column, read so that a row field of type `Option<SomeId>` can be declared with
/// `#[sqlx(try_from = "NullableId")]` (sqlx has no conversion from `Option<Uuid>` to it).
#[derive(Clone, Copy, Debug)]
pub struct NullableId(Option<Uuid>);

impl<DB: Database> Type<DB> for NullableId
where
    Uuid: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <Uuid as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <Uuid as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for NullableId
where
    Option<Uuid>: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        <Option<Uuid> as Decode<'r, DB>>::decode(value).map(NullableId)
    }
}

impl<T: From<Uuid>> From<NullableId> for Option<T> {
    fn from(value: NullableId) -> Self {
        value.0.map(T::from)
    }
}

/// Lets a deferred statement take a typed id (or an optional one) as a value.
macro_rules! deferred_id_values {
    ($($id:ty),* $(,)?) => {
        $(
            impl From<$id> for Value {
                fn from(value: $id) -> Self {
                    Value::Uuid(Some(value.0))
                }
            }

            impl From<Option<$id>> for Value {
                fn from(value: Option<$id>) -> Self {
                    Value::Uuid(value.map(|id| id.0))
                }
            }
        )*
    };
}

deferred_id_values!(LotId, MemberId, OrderId, RewardId);
