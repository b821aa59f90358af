//! Times as docker writes and shows them.

use chrono::{DateTime, SecondsFormat, Utc};

/// Now, as Go's RFC3339Nano writes it (docker's `Created`, `StartedAt`, log
/// times): nanoseconds without trailing zeros. Tools written in Go re-encode
/// image configs that way, so any other spelling changes the image id.
pub fn now() -> String {
    go_rfc3339_nano(Utc::now())
}

fn go_rfc3339_nano(t: DateTime<Utc>) -> String {
    let nanos = t.to_rfc3339_opts(SecondsFormat::Nanos, true);
    let (secs, frac) = nanos.trim_end_matches('Z').split_at(19);
    let frac = frac.trim_end_matches('0').trim_end_matches('.');
    format!("{secs}{frac}Z")
}

/// `t` with all nine digits of nanoseconds, as `docker logs -t` prints times.
pub fn fixed_nanos(t: &str) -> String {
    parse(t)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Nanos, true))
        .unwrap_or_else(|| t.to_string())
}

pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// docker's zero time, for fields that have not happened.
pub const ZERO: &str = "0001-01-01T00:00:00Z";

/// docker's `units.HumanDuration`: "Less than a second", "3 seconds", "About a minute", ...
pub fn human_duration(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    let (mins, hours) = (d.num_minutes(), d.num_hours());
    match () {
        _ if secs < 1 => "Less than a second".into(),
        _ if secs == 1 => "1 second".into(),
        _ if secs < 60 => format!("{secs} seconds"),
        _ if mins == 1 => "About a minute".into(),
        _ if mins < 60 => format!("{mins} minutes"),
        _ if (hours as f64 + 0.5) as i64 == 1 && hours < 2 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// "3 seconds ago", from an RFC 3339 time.
pub fn ago(t: &str) -> String {
    match parse(t) {
        Some(t) => format!("{} ago", human_duration(Utc::now() - t)),
        None => "N/A".into(),
    }
}

/// docker's `units.HumanSizeWithPrecision(size, 3)`: decimal units, 3 significant digits.
pub fn human_size(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    format!("{}{}", significant(v, 3), UNITS[i])
}

/// docker's `units.BytesSize`: binary units, four significant digits (`1.457MiB`).
pub fn binary_size(size: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut v = size as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", significant(v, 4), UNITS[i])
}

/// Go's `%.*g`: `n` significant digits, no trailing zeros.
fn significant(v: f64, n: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (n - 1 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanoseconds_as_go_writes_them() {
        let at = |nanos| DateTime::from_timestamp(1_700_000_000, nanos).unwrap();
        assert_eq!(
            go_rfc3339_nano(at(474_364_090)),
            "2023-11-14T22:13:20.47436409Z"
        );
        assert_eq!(go_rfc3339_nano(at(500_000_000)), "2023-11-14T22:13:20.5Z");
        assert_eq!(go_rfc3339_nano(at(0)), "2023-11-14T22:13:20Z");
        assert_eq!(
            fixed_nanos("2023-11-14T22:13:20.5Z"),
            "2023-11-14T22:13:20.500000000Z"
        );
    }

    #[test]
    fn sizes_like_docker() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(1000), "1kB");
        assert_eq!(human_size(4_261_234), "4.26MB");
        assert_eq!(human_size(1_500_000), "1.5MB");
        assert_eq!(human_size(12_345_678_901), "12.3GB");
    }

    #[test]
    fn durations_like_docker() {
        let d = chrono::Duration::seconds;
        assert_eq!(human_duration(d(0)), "Less than a second");
        assert_eq!(human_duration(d(5)), "5 seconds");
        assert_eq!(human_duration(d(70)), "About a minute");
        assert_eq!(human_duration(d(60 * 5)), "5 minutes");
        assert_eq!(human_duration(d(3600 * 3)), "3 hours");
        assert_eq!(human_duration(d(86400 * 3)), "3 days");
    }
}
