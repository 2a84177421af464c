//! Credentials: staff login and sessions, staff accounts and their roles, channel API keys.
//!
//! - [`login`]: logging in and out.
//! - [`staff`]: staff accounts, each with one role and one data scope; passwords.
//! - [`roles`]: named permission sets.
//! - [`api_keys`]: channel API keys, shown once.

pub mod api_keys;
pub mod login;
pub mod roles;
pub mod staff;
