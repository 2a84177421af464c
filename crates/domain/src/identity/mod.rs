//! Member identity: identifiers and their normalisation, member numbers, profiles and consents,
//! and the masks applied when a caller may not read personal information.

pub mod identifier;
pub mod member;
pub mod phone;

pub use identifier::{Identifier, IdentifierInput, IdentifierKind};
pub use member::{ConsentChannel, Gender, MemberNo, MemberStatus, Profile, ProfileInput};
pub use phone::Phone;
