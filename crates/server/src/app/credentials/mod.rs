//! Credentials: staff login and sessions, channel API keys.

pub mod api_keys;
pub mod login;
