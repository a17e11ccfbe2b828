//! Flow types, their phases, and the phase handlers that do each phase's work.

pub mod catalogue;
pub mod handlers;
