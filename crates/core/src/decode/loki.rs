//! `loki_query_range`: the JSON body of `/loki/api/v1/query_range` (`resultType: streams`).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{DecodeReport, opt_str, parse_json};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::log::{LogRecord, Severity};
use crate::time::Timestamp;

#[derive(Deserialize)]
struct Body {
    status: String,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Stream {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Vec<serde_json::Value>>,
}

/// Decodes a Loki streams response. Each entry is `[ns_timestamp_string, line]`, optionally
/// with a third element of structured metadata (Loki 3), which becomes labels. Records are
/// ordered by time, then stream order; `line` is the 1-based entry index in the file.
///
/// # Errors
/// [`Error::Decode`] for malformed JSON, `status` not `success`, `resultType` not `streams`, or
/// an entry that is not `[timestamp, line]`.
pub fn decode(
    source: &str,
    bytes: &[u8],
    options: &SourceOptions,
    report: &mut DecodeReport,
) -> Result<Vec<LogRecord>> {
    let body: Body = parse_json(source, bytes, "a Loki query_range body")?;
    if body.status != "success" {
        return Err(Error::decode(
            source,
            Location::JsonPath {
                path: "status".into(),
            },
            "\"success\"",
            body.status,
        ));
    }
    let data = body.data.ok_or_else(|| {
        Error::decode(
            source,
            Location::JsonPath {
                path: "data".into(),
            },
            "a data object",
            "nothing",
        )
    })?;
    if data.result_type != "streams" {
        return Err(Error::decode(
            source,
            Location::JsonPath {
                path: "data.resultType".into(),
            },
            "\"streams\" (a log query result)",
            format!("\"{}\"", data.result_type),
        ));
    }
    let service_label = opt_str(options, "service_label");
    let mut out = Vec::new();
    let mut index = 0u64;
    for (si, raw) in data.result.into_iter().enumerate() {
        let s: Stream = serde_json::from_value(raw).map_err(|e| {
            Error::decode(
                source,
                Location::JsonPath {
                    path: format!("data.result[{si}]"),
                },
                "a {stream, values} object",
                e.to_string(),
            )
        })?;
        let labels: Labels = s.stream.into_iter().collect();
        let service = labels.service(service_label).map(str::to_string);
        let level = labels
            .get("level")
            .or_else(|| labels.get("detected_level"))
            .and_then(Severity::parse);
        for (vi, entry) in s.values.into_iter().enumerate() {
            let loc = || Location::JsonPath {
                path: format!("data.result[{si}].values[{vi}]"),
            };
            let (ts, line, meta) = match entry.as_slice() {
                [serde_json::Value::String(t), serde_json::Value::String(l)] => (t, l, None),
                [
                    serde_json::Value::String(t),
                    serde_json::Value::String(l),
                    m,
                ] => (t, l, Some(m)),
                _ => {
                    return Err(Error::decode(
                        source,
                        loc(),
                        "[\"<unix ns>\", \"<line>\"]",
                        format!("{} elements", entry.len()),
                    ));
                }
            };
            let ns: i128 = ts.parse().map_err(|_| {
                Error::decode(
                    source,
                    loc(),
                    "a nanosecond timestamp string",
                    format!("\"{ts}\""),
                )
            })?;
            let ts = Timestamp::from_millis((ns / 1_000_000) as i64);
            let mut labels = labels.clone();
            if let Some(serde_json::Value::Object(m)) = meta {
                for (k, v) in m {
                    if let Some(v) = v.as_str() {
                        labels.insert(k.clone(), v);
                    }
                }
            }
            index += 1;
            out.push(LogRecord {
                source: source.to_string(),
                line: index,
                timestamp: Some(ts),
                service: service.clone(),
                level,
                labels,
                message: line.clone(),
            });
        }
    }
    out.sort_by_key(|r| r.timestamp);
    report.records += out.len() as u64;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::bundle::SourceFormat;
    use crate::decode::{Records, decode_fixture};
    use crate::log::Severity;

    #[test]
    fn decodes_streams() {
        let j = r#"{"status":"success","data":{"resultType":"streams","result":[
          {"stream":{"app":"cart","level":"error"},"values":[["1700000000500000000","boom"],["1700000000000000000","first",{"trace_id":"t1"}]]}],
          "stats":{}}}"#;
        let d = decode_fixture(SourceFormat::LokiQueryRange, j.as_bytes()).unwrap();
        let Records::Logs(l) = d.records else {
            panic!()
        };
        assert_eq!(l[0].message, "first");
        assert_eq!(l[0].labels.get("trace_id"), Some("t1"));
        assert_eq!(l[1].timestamp.unwrap().as_millis(), 1_700_000_000_500);
        assert_eq!(l[1].service.as_deref(), Some("cart"));
        assert_eq!(l[1].level, Some(Severity::Error));
    }

    #[test]
    fn wrong_result_type() {
        let e = decode_fixture(
            SourceFormat::LokiQueryRange,
            br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("streams"), "{e}");
    }
}
