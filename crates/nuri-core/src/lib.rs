//! Nuri's domain and its ports.
//!
//! A request's path: [`auth`] (API key → [`auth::AuthContext`]) → policy → limits → credits
//! ([`stages`]) → route ([`catalog`]) → [`provider::Provider`] → settle and meter
//! ([`usage`], [`metering`]) → data capture. The [`gateway::Gateway`] runs those stages in order;
//! storage is reached only through the traits in [`store`]. No HTTP framework, database driver or
//! HTTP client lives in this crate.

pub mod auth;
pub mod batching;
pub mod catalog;
pub mod credits;
mod endpoints;
pub mod error;
pub mod gateway;
pub mod metering;
pub mod policy;
pub mod provider;
pub mod routing;
pub mod stages;
pub mod store;
pub mod tasks;
pub mod tenancy;
pub mod time;
pub mod usage;

pub use error::GatewayError;
