//! SQLite and PostgreSQL behind Nuri's store ports.
//!
//! One implementation, [`SqlStore`], speaks to either database through sqlx's `Any` driver with
//! portable SQL (`$n` placeholders, BIGINT everywhere, JSON as TEXT); each backend has its own
//! migrations, applied at start by [`SqlStore::connect`]. The same conformance tests
//! (`tests/conformance.rs`) run against both.

mod connect;
mod credits;
mod exec;
mod rows;
mod tenancy;
mod usage;
mod writer;

pub use connect::{SqlStore, StoreOptions};
