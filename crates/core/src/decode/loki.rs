//! `loki_query_range`: the JSON body of `/loki/api/v1/query_range` (`resultType: streams`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{DecodeReport, opt_str, parse_json, parse_json_at};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::log::{LogRecord, Severity};
use crate::time::Timestamp;

#[derive(Deserialize)]
struct Body<'a> {
    status: String,
    #[serde(default, borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(borrow)]
    result: &'a RawValue,
}

#[derive(Deserialize)]
struct Stream<'a> {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default, borrow)]
    values: Vec<Entry<'a>>,
}

/// `["<unix ns>", "<line>"]` or `["<unix ns>", "<line>", {structured metadata}]`.
struct Entry<'a> {
    ts: Cow<'a, str>,
    line: Cow<'a, str>,
    meta: Option<BTreeMap<String, serde_json::Value>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Entry<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Entry<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("[\"<unix ns>\", \"<line>\"] with optional structured metadata")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Entry<'a>, A::Error> {
                use serde::de::Error as _;
                let ts: Cow<'a, str> = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(0, &self))?;
                let line: Cow<'a, str> = seq.next_element()?.ok_or_else(|| A::Error::invalid_length(1, &self))?;
                let meta = seq.next_element::<Option<BTreeMap<String, serde_json::Value>>>()?.flatten();
                if seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    return Err(A::Error::invalid_length(4, &self));
                }
                Ok(Entry { ts, line, meta })
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
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
        return Err(Error::decode(source, Location::JsonPath { path: "status".into() }, "\"success\"", body.status));
    }
    let data = body
        .data
        .ok_or_else(|| Error::decode(source, Location::JsonPath { path: "data".into() }, "a data object", "nothing"))?;
    if data.result_type != "streams" {
        return Err(Error::decode(
            source,
            Location::JsonPath { path: "data.resultType".into() },
            "\"streams\" (a log query result)",
            format!("\"{}\"", data.result_type),
        ));
    }
    let streams: Vec<Stream<'_>> =
        parse_json_at(source, data.result.get().as_bytes(), "an array of {stream, values}", "data.result")?;
    let service_label = opt_str(options, "service_label");
    let src: Arc<str> = source.into();
    let mut out = Vec::with_capacity(streams.iter().map(|s| s.values.len()).sum());
    let mut index = 0u64;
    for (si, s) in streams.into_iter().enumerate() {
        let labels: Arc<Labels> = Arc::new(s.stream.into_iter().collect());
        let service: Option<Arc<str>> = labels.service(service_label).map(Arc::from);
        let level = labels.get("level").or_else(|| labels.get("detected_level")).and_then(Severity::parse);
        for (vi, entry) in s.values.into_iter().enumerate() {
            let ns: i128 = entry.ts.parse().map_err(|_| {
                Error::decode(
                    source,
                    Location::JsonPath { path: format!("data.result[{si}].values[{vi}][0]") },
                    "a nanosecond timestamp string",
                    format!("\"{}\"", entry.ts),
                )
            })?;
            let ts = Timestamp::from_millis((ns / 1_000_000) as i64);
            let mut labels = Arc::clone(&labels);
            for (k, v) in entry.meta.into_iter().flatten() {
                if let Some(v) = v.as_str() {
                    Arc::make_mut(&mut labels).insert(k, v);
                }
            }
            index += 1;
            out.push(LogRecord {
                source: Arc::clone(&src),
                line: index,
                timestamp: Some(ts),
                service: service.clone(),
                level,
                labels,
                message: entry.line.into_owned(),
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
        let Records::Logs(l) = d.records else { panic!() };
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
