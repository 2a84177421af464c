//! Member identity as the server runs it: registration, the member view with masking, sealing of
//! personal data, the identity policy (blocked and limited identifiers), and the registry of
//! profile sections other capabilities plug into.

pub mod import;
pub mod merge;
pub mod policy;
pub mod privacy;
pub mod register;
pub mod sealed;
pub mod view;
