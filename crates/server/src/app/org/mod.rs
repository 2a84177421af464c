//! The organisation: business formats (业态), the stores and mall merchants (商户) in them, and
//! the channels members and orders come through. Each module creates, changes, archives, reads
//! and lists its records within the caller's data scope; a change outside the scope is a 403, a
//! record outside it answers the same 404 as one that does not exist.
//!
//! - [`formats`]: formats, changed by tenant-wide administrators.
//! - [`stores`]: stores and merchants, each in one active format.
//! - [`channels`]: group-wide channels and a format's own.

pub mod channels;
pub mod formats;
pub mod stores;
