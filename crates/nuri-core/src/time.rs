//! Wall-clock time as Unix milliseconds, the one time representation stored by Nuri.

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub fn now_s() -> i64 {
    now_ms() / 1000
}

/// Parses an RFC 3339 time into Unix milliseconds.
pub fn parse_rfc3339_ms(value: &str) -> Option<i64> {
    let t = ::time::OffsetDateTime::parse(value, &::time::format_description::well_known::Rfc3339)
        .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}
