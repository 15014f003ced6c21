//! `IP`: public IPv4 and IPv6 addresses. Private, loopback, link-local, shared (CGNAT),
//! documentation, benchmarking, multicast and reserved ranges are not personal and are skipped
//! (RFC 6890 special-purpose registries; see docs/pii.md).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::cue::Cue;
use crate::detect::numeric::{Cand, Sep};
use crate::detect::Ctx;
use crate::label::Label;
use crate::span::Hit;
use crate::text::is_word_byte;

/// Whether an IPv4 address is globally routable (not special-purpose).
pub(crate) fn v4_public(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0
        || a == 10
        || a == 127
        || a >= 224
        || (a == 100 && (64..=127).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..=31).contains(&b))
        || (a == 192 && b == 168)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113))
}

/// Whether an IPv6 address is globally routable (not special-purpose).
pub(crate) fn v6_public(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_public(v4);
    }
    let s = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0064 && s[1] == 0xff9b) // NAT64
        || s[0] == 0) // other reserved/embedded forms in ::/16
}

/// Dotted-quad candidates from the digit-run scanner.
pub(crate) fn detect_v4(ctx: &Ctx<'_>, c: &Cand<'_>) -> Option<Hit> {
    if c.groups.len() != 4 || !c.all_seps(Sep::Dot) {
        return None;
    }
    let mut oct = [0u8; 4];
    for (o, g) in oct.iter_mut().zip(c.groups) {
        let ds = &c.digits[g.d0 - c.groups[0].d0..][..g.len];
        if g.len > 3 || (g.len > 1 && ds[0] == 0) {
            return None;
        }
        let v = ds.iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
        *o = u8::try_from(v).ok()?;
    }
    // "version 1.2.3.4", "build 10.0.19045.1"
    if ctx.cues.near(Cue::VERSION, c.start, c.end, 16, 0) {
        return None;
    }
    let ip = Ipv4Addr::from(oct);
    v4_public(ip).then(|| Hit::new(c.start, c.end, Label::Ip, 0.9))
}

fn is_v6_byte(b: u8) -> bool {
    b.is_ascii_hexdigit() || b == b':' || b == b'.'
}

/// IPv6 around a `:` at `colon`. Returns the hit (if any) and the end of the examined token.
pub(crate) fn detect_v6(ctx: &Ctx<'_>, colon: usize) -> (Option<Hit>, usize) {
    let bytes = ctx.bytes;
    let mut s = colon;
    while s > 0 && colon - s < 40 && is_v6_byte(bytes[s - 1]) {
        s -= 1;
    }
    let mut e = colon;
    while e < bytes.len() && e - s < 46 && is_v6_byte(bytes[e]) {
        e += 1;
    }
    let token_end = e;
    while e > s && matches!(bytes[e - 1], b'.' | b':') && !bytes[s..e].ends_with(b"::") {
        e -= 1;
    }
    // Must stand alone: not part of a word, a Rust path or a MAC address with letters g-z.
    let glued_before = s > 0 && (is_word_byte(bytes[s - 1]) || bytes[s - 1] == b':');
    let glued_after = bytes.get(token_end).is_some_and(|&b| is_word_byte(b));
    let colons = bytes[s..e].iter().filter(|&&b| b == b':').count();
    if glued_before || glued_after || colons < 2 {
        return (None, token_end);
    }
    let Some(tok) = ctx.text.get(s..e) else {
        return (None, token_end);
    };
    match tok.parse::<Ipv6Addr>() {
        Ok(ip) if v6_public(ip) => (Some(Hit::new(s, e, Label::Ip, 0.9)), token_end),
        _ => (None, token_end),
    }
}
