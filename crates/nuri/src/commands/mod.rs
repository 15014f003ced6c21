//! Subcommands.

pub mod admin;
mod admin_credits;
pub mod migrate;
pub mod pii;
pub mod serve;
