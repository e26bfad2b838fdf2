//! `jsonl`: one JSON object a line. Also the JSON-object parser shared with
//! Elasticsearch hits and `raw` auto-detection.

use std::sync::Arc;

use super::{DecodeReport, json_get, json_text, json_time, opt_list, opt_str, text_lines};
use crate::bundle::SourceOptions;
use crate::error::{Location, Result};
use crate::labels::Labels;
use crate::log::{LogRecord, Severity};

/// Field names tried, in order, when options name none.
pub const DEFAULT_TIME_FIELDS: [&str; 5] = ["@timestamp", "timestamp", "time", "ts", "date"];
/// Message field names tried, in order.
pub const DEFAULT_MESSAGE_FIELDS: [&str; 4] = ["message", "msg", "log", "text"];
/// Level field names tried, in order.
pub const DEFAULT_LEVEL_FIELDS: [&str; 5] = ["level", "log.level", "severity", "lvl", "loglevel"];
/// Service field names tried, in order (after options and labels).
pub const DEFAULT_SERVICE_FIELDS: [&str; 6] =
    ["service", "service.name", "app", "kubernetes.labels.app", "job", "container"];

/// Turns one JSON object into a log record using the option fields
/// `timestamp_field`, `message_field`, `level_field`, `service_field` and `label_fields`.
pub(crate) fn record_from_json(
    v: &serde_json::Value,
    source: &Arc<str>,
    line: u64,
    options: &SourceOptions,
) -> LogRecord {
    let pick = |opt: &str, defaults: &[&str]| -> Option<&serde_json::Value> {
        match opt_str(options, opt) {
            Some(f) => json_get(v, f),
            None => defaults.iter().find_map(|f| json_get(v, f).filter(|x| !x.is_object() && !x.is_array())),
        }
    };
    let timestamp = pick("timestamp_field", &DEFAULT_TIME_FIELDS).and_then(json_time);
    let message = pick("message_field", &DEFAULT_MESSAGE_FIELDS).and_then(json_text).unwrap_or_else(|| v.to_string());
    let level = pick("level_field", &DEFAULT_LEVEL_FIELDS).and_then(json_text).and_then(|s| Severity::parse(&s));
    let mut labels = Labels::new();
    for f in opt_list(options, "label_fields") {
        if let Some(t) = json_get(v, &f).and_then(json_text) {
            labels.insert(f, t);
        }
    }
    let service = pick("service_field", &DEFAULT_SERVICE_FIELDS)
        .and_then(json_text)
        .or_else(|| labels.service(opt_str(options, "service_label")).map(str::to_string));
    LogRecord::new(source, line, timestamp, service.as_deref(), level, labels, message)
}

/// Decodes JSON Lines. A line that is not a JSON object is skipped and counted.
///
/// # Errors
/// Never fails on content; the `Result` is kept for uniformity with the other decoders.
pub fn decode(
    source: &str,
    bytes: &[u8],
    options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<LogRecord>> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let src: Arc<str> = source.into();
    for (line, text) in text_lines(bytes, report) {
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v @ serde_json::Value::Object(_)) => out.push(record_from_json(&v, &src, line, options)),
            Ok(_) => bad.push((line, "not a JSON object".to_string())),
            Err(e) => bad.push((line, format!("not JSON: {e}"))),
        }
    }
    for (line, why) in bad {
        report.skip(&Location::Line { line }, why);
    }
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::bundle::{SourceFormat, SourceOptions};
    use crate::decode::{Records, decode_bytes, decode_fixture};
    use crate::log::Severity;

    #[test]
    fn decodes_with_defaults_and_options() {
        let text = "{\"ts\":1700000000,\"msg\":\"hi\",\"level\":\"WARN\",\"service\":{\"name\":\"cart\"}}\r\nnot json\n\n[1]\n";
        let d = decode_fixture(SourceFormat::Jsonl, text.as_bytes()).unwrap();
        let Records::Logs(l) = d.records else { panic!() };
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].message, "hi");
        assert_eq!(l[0].level, Some(Severity::Warn));
        assert_eq!(l[0].service.as_deref(), Some("cart"));
        assert_eq!(d.report.skipped, 2);

        let mut o = SourceOptions::new();
        o.insert("message_field".into(), "body".into());
        o.insert("label_fields".into(), serde_json::json!(["pod"]));
        let d = decode_bytes(SourceFormat::Jsonl, "x", b"{\"body\":\"b\",\"pod\":\"p-1\"}", &o).unwrap();
        let Records::Logs(l) = d.records else { panic!() };
        assert_eq!((l[0].message.as_str(), l[0].labels.get("pod")), ("b", Some("p-1")));
    }
}
