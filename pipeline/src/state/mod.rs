//! Runtime state: input offset tracking, the CRM state of the identity
//! join, and the correlation state changelog of the keyed stage.

pub mod changelog;
pub mod crm;
pub mod identity_updates;
pub mod offsets;
