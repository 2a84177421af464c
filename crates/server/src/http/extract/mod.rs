//! Extractors that reject in our problem+json format: the authenticated caller, JSON bodies (with
//! the field path of the first bad value), query strings, path ids, and the write envelope that
//! bundles a command body with its idempotency key and request id.

mod caller;
mod command;
mod json;

pub use caller::Caller;
pub use command::{Command, PublicJson, REQUEST_ID_HEADER};
pub use json::{ApiPath, ApiQuery};
