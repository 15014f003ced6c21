//! Subcommands.

pub mod admin;
pub mod migrate;
pub mod pii;
pub mod serve;
