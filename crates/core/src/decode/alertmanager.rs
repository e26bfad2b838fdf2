//! `alertmanager`: the body of Alertmanager's `GET /api/v2/alerts`.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{DecodeReport, opt_str, parse_json};
use crate::alert::{Alert, AlertStatus};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::time::Timestamp;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AmAlert {
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    starts_at: String,
    #[serde(default)]
    ends_at: Option<String>,
    #[serde(default)]
    fingerprint: Option<String>,
    #[serde(default)]
    status: Option<AmStatus>,
}

#[derive(Deserialize)]
struct AmStatus {
    state: String,
}

/// Decodes Alertmanager alerts. `active` is firing, `suppressed` suppressed; an
/// `unprocessed` alert is treated as firing. `endsAt` is reported only for alerts that are not
/// active (Alertmanager sets a future `endsAt` on firing alerts).
///
/// # Errors
/// [`Error::Decode`] for JSON that is not an array of alerts, or a bad `startsAt`.
pub fn decode(source: &str, bytes: &[u8], options: &SourceOptions, report: &mut DecodeReport) -> Result<Vec<Alert>> {
    let alerts: Vec<AmAlert> = parse_json(source, bytes, "an array of Alertmanager alerts")?;
    let service_label = opt_str(options, "service_label");
    let mut out = Vec::new();
    for (i, a) in alerts.into_iter().enumerate() {
        let started_at = Timestamp::parse_rfc3339(&a.starts_at).map_err(|_| {
            Error::decode(
                source,
                Location::JsonPath { path: format!("[{i}].startsAt") },
                "an RFC 3339 time",
                format!("\"{}\"", a.starts_at),
            )
        })?;
        let status = match a.status.as_ref().map(|s| s.state.as_str()) {
            Some("suppressed") => AlertStatus::Suppressed,
            Some("resolved") => AlertStatus::Resolved,
            _ => AlertStatus::Firing,
        };
        let ended_at = match status {
            AlertStatus::Firing => None,
            _ => a.ends_at.as_deref().and_then(|t| Timestamp::parse_rfc3339(t).ok()).filter(|t| t.as_millis() > 0),
        };
        let labels: Labels = a.labels.into_iter().collect();
        let name = labels.get("alertname").unwrap_or("unnamed").to_string();
        let id = a.fingerprint.unwrap_or_else(|| format!("{name}@{started_at}"));
        out.push(Alert {
            id,
            name,
            status,
            severity: labels.get("severity").map(str::to_string),
            service: labels.service(service_label).map(str::to_string),
            started_at,
            ended_at,
            summary: a.annotations.get("summary").or_else(|| a.annotations.get("description")).cloned(),
            labels,
        });
    }
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::alert::AlertStatus;
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};

    #[test]
    fn decodes_documented_shape() {
        let j = r#"[{"annotations":{"summary":"p99 above 500ms"},"endsAt":"2026-11-02T14:20:00.000Z","fingerprint":"3b4f","receivers":[{"name":"pager"}],
          "startsAt":"2026-11-02T14:05:00.000Z","status":{"inhibitedBy":[],"silencedBy":[],"state":"active"},"updatedAt":"2026-11-02T14:06:00.000Z",
          "generatorURL":"http://prom/graph","labels":{"alertname":"CheckoutLatency","service":"checkout","severity":"page"}}]"#;
        let d = decode_fixture(SourceFormat::Alertmanager, j.as_bytes()).unwrap();
        let Records::Alerts(a) = d.records else { panic!() };
        assert_eq!((a[0].name.as_str(), a[0].status), ("CheckoutLatency", AlertStatus::Firing));
        assert_eq!(a[0].ended_at, None);
        assert_eq!(a[0].service.as_deref(), Some("checkout"));
        assert!(decode_fixture(SourceFormat::Alertmanager, br#"[{"labels":{},"startsAt":"x"}]"#).is_err());
    }
}
