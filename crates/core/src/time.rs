//! Timestamps (UTC, millisecond precision) and time ranges.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};

/// A UTC instant with millisecond precision, stored as milliseconds since the Unix epoch.
///
/// On the wire it is an RFC 3339 string: `2026-11-02T14:05:00Z`, with a `.mmm`
/// fraction only when the milliseconds are not zero, so that the same instant
/// always serialises to the same bytes.
///
/// ```
/// use faultlens_core::Timestamp;
/// let t = Timestamp::parse_rfc3339("2026-11-02T14:05:00.250+01:00")?;
/// assert_eq!(t.to_string(), "2026-11-02T13:05:00.250Z");
/// assert_eq!(Timestamp::from_unix_auto(1_762_092_300.0)?, Timestamp::from_unix_auto(1_762_092_300_000.0)?);
/// # Ok::<(), faultlens_core::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i64);

/// Largest magnitude of milliseconds accepted (year ~ 292,000 either way is far beyond this;
/// we cap at year 9999 so RFC 3339 output keeps four year digits).
const MAX_MS: i64 = 253_402_300_799_999;
const MIN_MS: i64 = -62_135_596_800_000;

impl Timestamp {
    /// The instant `ms` milliseconds after the Unix epoch.
    #[must_use]
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Seconds since the Unix epoch, as a float.
    #[must_use]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Parses an RFC 3339 timestamp with any offset; sub-millisecond digits are truncated.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `s` is not RFC 3339 or lies outside years 1 to 9999.
    pub fn parse_rfc3339(s: &str) -> Result<Self> {
        let dt = DateTime::parse_from_rfc3339(s.trim())
            .map_err(|e| Error::invalid("timestamp", format!("`{}` is not RFC 3339: {e}", truncate(s, 64))))?;
        Self::checked(dt.timestamp_millis())
    }

    /// Interprets a Unix time whose unit is unknown: seconds, milliseconds,
    /// microseconds or nanoseconds, chosen by magnitude (below 1e11 seconds, i.e. before
    /// year 5138; below 1e14 milliseconds; below 1e17 microseconds; else nanoseconds).
    /// This is the documented normalisation for files that mix units.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for NaN, infinities or times outside years 1 to 9999.
    pub fn from_unix_auto(v: f64) -> Result<Self> {
        if !v.is_finite() {
            return Err(Error::invalid("timestamp", format!("{v} is not a finite Unix time")));
        }
        let a = v.abs();
        let ms = if a < 1e11 {
            v * 1e3
        } else if a < 1e14 {
            v
        } else if a < 1e17 {
            v / 1e3
        } else {
            v / 1e6
        };
        Self::checked(ms.round() as i64)
    }

    /// Parses the timestamp layouts found in CSV files and logs: RFC 3339,
    /// `YYYY-MM-DD HH:MM:SS[.fff]` (read as UTC), `YYYY/MM/DD ...`, Apache's
    /// `10/Oct/2000:13:55:36 -0700`, or a Unix number of any unit.
    ///
    /// ```
    /// use faultlens_core::Timestamp;
    /// assert_eq!(Timestamp::parse_lenient("2014-07-01 00:30:00"), Timestamp::parse_rfc3339("2014-07-01T00:30:00Z").ok());
    /// ```
    #[must_use]
    pub fn parse_lenient(s: &str) -> Option<Self> {
        crate::decode::parse_time_text(s)
    }

    /// Interprets `v` as Unix seconds (fractions allowed).
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for non-finite values or times outside years 1 to 9999.
    pub fn from_unix_secs_f64(v: f64) -> Result<Self> {
        if !v.is_finite() {
            return Err(Error::invalid("timestamp", format!("{v} is not a finite Unix time")));
        }
        Self::checked((v * 1e3).round() as i64)
    }

    fn checked(ms: i64) -> Result<Self> {
        if (MIN_MS..=MAX_MS).contains(&ms) {
            Ok(Self(ms))
        } else {
            Err(Error::invalid("timestamp", format!("{ms} ms is outside years 1 to 9999")))
        }
    }

    /// This instant plus `ms` milliseconds (saturating).
    #[must_use]
    pub const fn add_millis(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// The RFC 3339 form (`Z` offset; fraction only when non-zero).
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_millis(self.0) {
            Some(dt) if self.0.rem_euclid(1000) == 0 => dt.to_rfc3339_opts(SecondsFormat::Secs, true),
            Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
            None => format!("@{}ms", self.0),
        }
    }
}

fn truncate(s: &str, n: usize) -> Cow<'_, str> {
    if s.len() <= n {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("{}…", s.get(..s.floor_char_boundary(n)).unwrap_or_default()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = Cow::<str>::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time", "description": "RFC 3339 UTC instant, millisecond precision"})
    }
}

/// A closed time interval `[start, end]`, `start <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, JsonSchema)]
pub struct TimeRange {
    /// First instant.
    pub start: Timestamp,
    /// Last instant.
    pub end: Timestamp,
}

impl TimeRange {
    /// A range; fails when `end < start`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when `end` is before `start`.
    pub fn new(start: Timestamp, end: Timestamp) -> Result<Self> {
        if end < start {
            return Err(Error::invalid("time range", format!("end {end} is before start {start}")));
        }
        Ok(Self { start, end })
    }

    /// The single instant `t`.
    #[must_use]
    pub const fn instant(t: Timestamp) -> Self {
        Self { start: t, end: t }
    }

    /// Whether `t` lies in the range (both ends included).
    #[must_use]
    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t <= self.end
    }

    /// Whether the two ranges share at least one instant.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        self.start <= other.end && other.start <= self.end
    }

    /// Length in milliseconds.
    #[must_use]
    pub fn duration_millis(&self) -> i64 {
        self.end.as_millis() - self.start.as_millis()
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Raw {
            start: Timestamp,
            end: Timestamp,
        }
        let r = Raw::deserialize(d)?;
        Self::new(r.start, r.end).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip_is_canonical() {
        for s in ["2026-11-02T14:05:00Z", "2026-11-02T14:05:00.001Z", "1970-01-01T00:00:00Z"] {
            assert_eq!(Timestamp::parse_rfc3339(s).unwrap().to_string(), s);
        }
        let t = Timestamp::parse_rfc3339("2026-11-02T14:05:00.123456789-02:00").unwrap();
        assert_eq!(t.to_string(), "2026-11-02T16:05:00.123Z");
    }

    #[test]
    fn unix_units_are_detected() {
        let s = Timestamp::from_unix_auto(1_652_802_690.0).unwrap();
        assert_eq!(Timestamp::from_unix_auto(1_652_802_690_000.0).unwrap(), s);
        assert_eq!(Timestamp::from_unix_auto(1_652_802_690_000_000.0).unwrap(), s);
        assert_eq!(Timestamp::from_unix_auto(1_652_802_690_000_000_000.0).unwrap(), s);
        assert!(Timestamp::from_unix_auto(f64::NAN).is_err());
        assert!(Timestamp::from_unix_auto(f64::INFINITY).is_err());
    }

    #[test]
    fn bad_times_are_errors() {
        assert!(Timestamp::parse_rfc3339("yesterday").is_err());
        assert!(TimeRange::new(Timestamp::from_millis(5), Timestamp::from_millis(4)).is_err());
        let e = serde_json::from_str::<TimeRange>(r#"{"start":"2026-01-02T00:00:00Z","end":"2026-01-01T00:00:00Z"}"#);
        assert!(e.is_err());
    }
}
