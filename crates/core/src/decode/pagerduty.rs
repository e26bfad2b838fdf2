//! `pagerduty_incidents`: the body of PagerDuty's `GET /incidents`.

use serde::Deserialize;

use super::{DecodeReport, parse_json};
use crate::alert::{Alert, AlertStatus};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::time::Timestamp;

#[derive(Deserialize)]
struct Body {
    incidents: Vec<Incident>,
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    #[serde(default)]
    incident_number: Option<i64>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    summary: Option<String>,
    status: String,
    #[serde(default)]
    urgency: Option<String>,
    created_at: String,
    #[serde(default)]
    resolved_at: Option<String>,
    #[serde(default)]
    last_status_change_at: Option<String>,
    #[serde(default)]
    service: Option<Ref>,
    #[serde(default)]
    priority: Option<Ref>,
    #[serde(default)]
    html_url: Option<String>,
}

#[derive(Deserialize)]
struct Ref {
    #[serde(default)]
    summary: Option<String>,
}

/// Decodes PagerDuty incidents. The service is `service.summary`; severity is the priority
/// summary, else the urgency.
///
/// # Errors
/// [`Error::Decode`] for a body without `incidents`, an unknown status or a bad time.
pub fn decode(source: &str, bytes: &[u8], _options: &SourceOptions, report: &mut DecodeReport) -> Result<Vec<Alert>> {
    let body: Body = parse_json(source, bytes, "a PagerDuty incidents response")?;
    let mut out = Vec::new();
    for (i, inc) in body.incidents.into_iter().enumerate() {
        let loc = |f: &str| Location::JsonPath { path: format!("incidents[{i}].{f}") };
        let status = match inc.status.as_str() {
            "triggered" => AlertStatus::Firing,
            "acknowledged" => AlertStatus::Acknowledged,
            "resolved" => AlertStatus::Resolved,
            other => {
                return Err(Error::decode(
                    source,
                    loc("status"),
                    "triggered, acknowledged or resolved",
                    format!("\"{other}\""),
                ));
            }
        };
        let started_at = Timestamp::parse_rfc3339(&inc.created_at).map_err(|_| {
            Error::decode(source, loc("created_at"), "an RFC 3339 time", format!("\"{}\"", inc.created_at))
        })?;
        let ended_at = if status == AlertStatus::Resolved {
            inc.resolved_at.or(inc.last_status_change_at).and_then(|t| Timestamp::parse_rfc3339(&t).ok())
        } else {
            None
        };
        let mut labels = Labels::new();
        if let Some(n) = inc.incident_number {
            labels.insert("incident_number", n.to_string());
        }
        if let Some(u) = &inc.urgency {
            labels.insert("urgency", u.clone());
        }
        if let Some(u) = inc.html_url {
            labels.insert("html_url", u);
        }
        let name = inc.title.clone().or(inc.summary.clone()).unwrap_or_else(|| inc.id.clone());
        out.push(Alert {
            id: inc.id,
            name,
            status,
            severity: inc.priority.and_then(|p| p.summary).or(inc.urgency),
            service: inc.service.and_then(|s| s.summary),
            started_at,
            ended_at,
            labels,
            summary: inc.summary,
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
        let j = r#"{"incidents":[{"id":"PT4KHLK","type":"incident","summary":"[#1234] The server is on fire.","incident_number":1234,
          "created_at":"2026-11-02T14:05:00Z","status":"resolved","title":"The server is on fire.","resolved_at":"2026-11-02T15:00:00Z",
          "service":{"id":"PIJ90N7","type":"service_reference","summary":"checkout"},"urgency":"high","priority":{"summary":"P1"}}],
          "limit":25,"offset":0,"total":null,"more":false}"#;
        let d = decode_fixture(SourceFormat::PagerdutyIncidents, j.as_bytes()).unwrap();
        let Records::Alerts(a) = d.records else { panic!() };
        assert_eq!(a[0].status, AlertStatus::Resolved);
        assert_eq!(a[0].service.as_deref(), Some("checkout"));
        assert_eq!(a[0].severity.as_deref(), Some("P1"));
        assert!(a[0].ended_at.is_some());
        let bad = j.replace("\"resolved\",\"title\"", "\"exploded\",\"title\"");
        assert!(
            decode_fixture(SourceFormat::PagerdutyIncidents, bad.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("incidents[0].status")
        );
    }
}
