//! Shapes shared by the resource routers: list queries and pages.

use crate::error::{ApiError, ApiResult};
use huiyuan_domain::auth::{Access, Denied, Placement, Principal, RecordClass};
use huiyuan_domain::paging::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Cursor pagination parameters of every list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–200 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> ApiResult<PageRequest> {
        Ok(PageRequest::parse(self.limit, self.cursor.as_deref())?)
    }
}

/// One page of a list; `next_cursor` is absent on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageBody<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> From<Page<T>> for PageBody<T> {
    fn from(page: Page<T>) -> Self {
        Self {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

/// The record when the caller may read it; otherwise the same 404 as for a record that does not
/// exist, so scopes do not leak what lies outside them.
pub fn visible<T>(
    caller: &Principal,
    record: Option<T>,
    class: RecordClass,
    placement: impl Fn(&T) -> Placement,
    what: &str,
) -> ApiResult<T> {
    record
        .filter(|record| caller.permits(Access::Read, class, &placement(record)))
        .ok_or_else(|| ApiError::not_found(what))
}

/// A 403 unless the caller may change records at this placement.
pub fn writable(caller: &Principal, class: RecordClass, placement: &Placement) -> ApiResult<()> {
    if caller.permits(Access::Write, class, placement) {
        Ok(())
    } else {
        Err(Denied::OutOfScope.into())
    }
}
