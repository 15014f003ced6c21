//! Shared vocabulary of Nuri: identifiers, money in integer minor units, the OpenAI wire types
//! clients speak, and the one public table of error codes.
//!
//! Every other crate depends on this one; it depends on nothing of Nuri's.

pub mod error;
pub mod ids;
pub mod money;
pub mod openai;

pub use error::{ErrorBody, ErrorCode, ErrorObject};
pub use money::{MilliWon, Price};
