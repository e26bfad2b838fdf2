//! `loki_query_range`: the JSON body of `/loki/api/v1/query_range` (`resultType: streams`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{DecodeReport, opt_str, parse_json};
use crate::bundle::SourceOptions;
use crate::error::{Error, Location, Result};
use crate::labels::Labels;
use crate::log::{LogRecord, Severity};
use crate::time::Timestamp;

/// A query_range body whose `data.result` is read as `R`: the streams themselves, or
/// [`IgnoredAny`] to look at the envelope alone when the streams do not parse.
#[derive(Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
struct Body<R> {
    status: String,
    #[serde(default = "Option::default")]
    data: Option<Data<R>>,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "R: Deserialize<'de>"))]
struct Data<R> {
    #[serde(rename = "resultType")]
    result_type: String,
    result: R,
}

impl<R> Body<R> {
    /// The envelope's verdict: `success`, a data object, `resultType: streams`.
    fn check(&self, source: &str) -> Result<()> {
        if self.status != "success" {
            return Err(Error::decode(
                source,
                Location::JsonPath { path: "status".into() },
                "\"success\"",
                &self.status,
            ));
        }
        let data = self.data.as_ref().ok_or_else(|| {
            Error::decode(source, Location::JsonPath { path: "data".into() }, "a data object", "nothing")
        })?;
        if data.result_type != "streams" {
            return Err(Error::decode(
                source,
                Location::JsonPath { path: "data.resultType".into() },
                "\"streams\" (a log query result)",
                format!("\"{}\"", data.result_type),
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Stream<'a> {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default, borrow)]
    values: Vec<Entry<'a>>,
}

/// `["<unix ns>", "<line>"]` or `["<unix ns>", "<line>", {structured metadata}]`.
pub(super) struct Entry<'a> {
    pub(super) ts: Cow<'a, str>,
    pub(super) line: Cow<'a, str>,
    pub(super) meta: Option<BTreeMap<String, serde_json::Value>>,
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
    let service_label = opt_str(options, "service_label");
    let src: Arc<str> = source.into();
    // a well-formed body is read in one pass; anything else goes through the typed reader
    // below, which names the problem and its place
    let out = match super::loki_stream::read(bytes, &src, service_label) {
        Some(out) => out,
        None => read_typed(source, bytes, &src, service_label)?,
    };
    report.records += out.len() as u64;
    Ok(sort_by_time(out))
}

/// The typed reader: the body into streams and entries, then into records in file order. It
/// handles every body [`decode`] accepts and names the place of any problem.
fn read_typed(source: &str, bytes: &[u8], src: &Arc<str>, service_label: Option<&str>) -> Result<Vec<LogRecord>> {
    let body: Body<Vec<Stream<'_>>> = match parse_json(source, bytes, "a Loki query_range body") {
        Ok(body) => body,
        Err(error) => {
            // the streams did not parse: report a wrong envelope as such, else the shape error
            let loose: Body<IgnoredAny> = parse_json(source, bytes, "a Loki query_range body")?;
            loose.check(source)?;
            return Err(error);
        }
    };
    body.check(source)?;
    let streams = body.data.map(|d| d.result).unwrap_or_default();
    let mut out = Vec::with_capacity(streams.iter().map(|s| s.values.len()).sum());
    let mut index = 0u64;
    for (si, s) in streams.into_iter().enumerate() {
        let (labels, service, level) = stream_labels(s.stream, service_label);
        for (vi, entry) in s.values.into_iter().enumerate() {
            let ts = parse_ns(&entry.ts).ok_or_else(|| {
                Error::decode(
                    source,
                    Location::JsonPath { path: format!("data.result[{si}].values[{vi}][0]") },
                    "a nanosecond timestamp string",
                    format!("\"{}\"", entry.ts),
                )
            })?;
            let mut labels = Arc::clone(&labels);
            if let Some(meta) = entry.meta {
                add_meta(&mut labels, meta);
            }
            index += 1;
            out.push(LogRecord {
                source: Arc::clone(src),
                line: index,
                timestamp: Some(ts),
                service: service.clone(),
                level,
                labels,
                message: entry.line.into_owned(),
            });
        }
    }
    Ok(out)
}

/// A stream's labels, with the service and the severity they name.
pub(super) fn stream_labels(
    stream: BTreeMap<String, String>,
    service_label: Option<&str>,
) -> (Arc<Labels>, Option<Arc<str>>, Option<Severity>) {
    let labels: Arc<Labels> = Arc::new(stream.into_iter().collect());
    let service = labels.service(service_label).map(Arc::from);
    let level = labels.get("level").or_else(|| labels.get("detected_level")).and_then(Severity::parse);
    (labels, service, level)
}

/// Adds an entry's structured metadata to its labels (string values only).
pub(super) fn add_meta(labels: &mut Arc<Labels>, meta: BTreeMap<String, serde_json::Value>) {
    for (k, v) in meta {
        if let Some(v) = v.as_str() {
            Arc::make_mut(labels).insert(k, v);
        }
    }
}

/// A Loki nanosecond timestamp (a decimal string) as a [`Timestamp`] in milliseconds; `None`
/// when it is not an integer. Plain digits that fit in `i64` skip the general parser.
pub(super) fn parse_ns(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    let ns: i128 = if !b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit) {
        i128::from(b.iter().fold(0i64, |acc, &c| acc * 10 + i64::from(c - b'0')))
    } else {
        text.parse().ok()?
    };
    Some(Timestamp::from_millis((ns / 1_000_000) as i64))
}

/// Orders records by time, ties in input order: sorts small `(time, index)` keys and then
/// permutes the records in place along the cycles of the permutation, so each record moves
/// about once and no second copy of the records is allocated (a stable sort of the records
/// themselves moves them once per merge pass when many streams interleave).
fn sort_by_time(mut records: Vec<LogRecord>) -> Vec<LogRecord> {
    if records.is_sorted_by_key(|r| r.timestamp) {
        return records;
    }
    let mut keys: Vec<(Option<Timestamp>, usize)> = records.iter().enumerate().map(|(i, r)| (r.timestamp, i)).collect();
    keys.sort_unstable();
    // from[i]: where the record that belongs at i is now; a visited slot points to itself
    let mut from: Vec<usize> = keys.into_iter().map(|(_, i)| i).collect();
    for start in 0..from.len() {
        let mut at = start;
        while let Some(&next) = from.get(at) {
            if let Some(slot) = from.get_mut(at) {
                *slot = at;
            }
            if next == start || next == at {
                break;
            }
            records.swap(at, next);
            at = next;
        }
    }
    records
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

    /// The one-pass reader gives what the typed reader gives, on bodies with metadata,
    /// escapes, extra keys, either key order and service labels; and hands anything it does not
    /// accept to the typed reader.
    #[test]
    fn one_pass_reader_agrees_with_the_typed_reader() {
        use std::sync::Arc;

        use proptest::prelude::*;
        let entry = (0u64..3_000_000_000_000_000_000, "[a-z\"\\\\ é]{0,12}", proptest::option::of("[a-z]{1,4}"))
            .prop_map(|(ns, line, meta)| {
                let line = serde_json::to_string(&line).unwrap();
                match meta {
                    Some(m) => format!("[\"{ns}\",{line},{{\"trace_id\":\"{m}\",\"n\":1}}]"),
                    None => format!("[\"{ns}\",{line}]"),
                }
            });
        let stream = (proptest::collection::vec(entry, 0..6), "[a-z]{1,3}", any::<bool>(), any::<bool>()).prop_map(
            |(values, app, values_first, extra)| {
                let labels = format!("\"stream\":{{\"app\":\"{app}\",\"level\":\"warn\"}}");
                let values = format!("\"values\":[{}]", values.join(","));
                let extra = if extra { ",\"x\":{\"y\":[1,2]}" } else { "" };
                if values_first {
                    format!("{{{values},{labels}{extra}}}")
                } else {
                    format!("{{{labels},{values}{extra}}}")
                }
            },
        );
        proptest!(|(streams in proptest::collection::vec(stream, 0..4), label in proptest::option::of(Just("app")))| {
            let j = format!(
                "{{\"data\":{{\"result\":[{}],\"resultType\":\"streams\",\"stats\":{{}}}},\"status\":\"success\"}}",
                streams.join(",")
            );
            let src: Arc<str> = "l.json".into();
            let fast = super::super::loki_stream::read(j.as_bytes(), &src, label);
            let typed = super::read_typed("l.json", j.as_bytes(), &src, label).unwrap();
            prop_assert_eq!(fast, Some(typed));
        });
        // bodies it does not take: the typed reader reports them
        let src: Arc<str> = "l.json".into();
        for bad in [
            r#"{"status":"error","data":{"resultType":"streams","result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"streams","result":[{"values":[["x","a"]]}]}}"#,
            r#"{"status":"success","status":"success","data":{"resultType":"streams","result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"streams","resultType":"streams","result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"streams","result":[{"values":[],"values":[]}]}}"#,
            r#"{"status":"success","data":{"resultType":"streams","result":[]},"data":{"resultType":"streams","result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"streams","result":[],"result":[]}}"#,
            r#"{"status":"success","data":{"resultType":"streams","result":[{"stream":{},"stream":{},"values":[]}]}}"#,
            r#"{"status":"success","data":{"resultType":"streams","result":[]}} trailing"#,
        ] {
            assert_eq!(super::super::loki_stream::read(bad.as_bytes(), &src, None), None, "{bad}");
        }
    }

    /// Interleaved streams come out in time order, ties in input order, nothing lost.
    #[test]
    fn sorts_interleaved_streams_stably() {
        use proptest::prelude::*;
        proptest!(|(streams in proptest::collection::vec(proptest::collection::vec(0u8..20, 0..30), 1..5))| {
            let body: Vec<String> = streams
                .iter()
                .enumerate()
                .map(|(si, ts)| {
                    let values: Vec<String> =
                        ts.iter().enumerate().map(|(i, t)| format!("[\"{t}000000\",\"s{si} e{i}\"]")).collect();
                    format!("{{\"stream\":{{\"app\":\"a{si}\"}},\"values\":[{}]}}", values.join(","))
                })
                .collect();
            let j = format!("{{\"status\":\"success\",\"data\":{{\"resultType\":\"streams\",\"result\":[{}]}}}}", body.join(","));
            let d = decode_fixture(SourceFormat::LokiQueryRange, j.as_bytes()).unwrap();
            let Records::Logs(l) = d.records else { panic!() };
            let mut want: Vec<(u8, usize, String)> = Vec::new();
            let mut line = 0;
            for (si, ts) in streams.iter().enumerate() {
                for (i, &t) in ts.iter().enumerate() {
                    line += 1;
                    want.push((t, line, format!("s{si} e{i}")));
                }
            }
            want.sort_by_key(|(t, line, _)| (*t, *line));
            let got: Vec<(u8, usize, String)> =
                l.iter().map(|r| (r.timestamp.unwrap().as_millis() as u8, r.line as usize, r.message.clone())).collect();
            prop_assert_eq!(got, want);
        });
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
