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

/// Formats Unix milliseconds as RFC 3339 in UTC (e.g. `2026-11-30T03:00:00Z`).
pub fn format_rfc3339_ms(ms: i64) -> String {
    ::time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&::time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
