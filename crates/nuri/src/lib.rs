//! The `nuri` binary's library half: the composition root ([`compose`]) and the subcommands
//! ([`commands`]), so black-box tests can assemble the same application the binary serves.

pub mod commands;
pub mod compose;
