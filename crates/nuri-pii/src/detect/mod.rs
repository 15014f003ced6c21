//! One module per label family. Each detector validates a candidate the scanner found and
//! returns a [`Hit`](crate::span::Hit) or nothing.

pub(crate) mod account;
pub(crate) mod address;
pub(crate) mod card;
pub(crate) mod email;
pub(crate) mod ip;
pub(crate) mod license;
pub(crate) mod national;
pub(crate) mod numeric;
pub(crate) mod passport;
pub(crate) mod person;
pub(crate) mod phone;

use crate::cue::Cues;

/// What every detector may look at: the text and its cues.
pub(crate) struct Ctx<'a> {
    pub text: &'a str,
    pub bytes: &'a [u8],
    pub cues: &'a Cues<'a>,
}
