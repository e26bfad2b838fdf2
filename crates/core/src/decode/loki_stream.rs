//! The one-pass reader behind [`super::loki::decode`]: entries become [`LogRecord`]s as the
//! JSON is read, with no intermediate list of entries (a million-line body would otherwise
//! hold a second copy of its index in memory). It answers only for well-formed bodies; on
//! anything else it gives up, and the typed reader runs to report the error with its path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserializer;
use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::loki::{Entry, add_meta, parse_ns, stream_labels};
use crate::labels::Labels;
use crate::log::LogRecord;

/// Each seed hands itself to the deserializer as the visitor of a map or a sequence.
macro_rules! seed {
    ($($name:ident => $value:ty, $method:ident;)*) => {$(
        impl<'de> DeserializeSeed<'de> for $name<'_, '_> {
            type Value = $value;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.$method(self)
            }
        }
    )*};
}

seed! {
    BodySeed => bool, deserialize_map;
    DataSeed => bool, deserialize_map;
    StreamsSeed => (), deserialize_seq;
    StreamSeed => (), deserialize_map;
    ValuesSeed => (), deserialize_seq;
}

/// Where records go while the body is read.
struct Sink<'o> {
    src: Arc<str>,
    service_label: Option<&'o str>,
    out: Vec<LogRecord>,
    /// Structured metadata of entries that carry it: (record index, labels to add).
    meta: Vec<(usize, BTreeMap<String, serde_json::Value>)>,
    blank: Arc<Labels>,
}

/// Reads a whole Loki streams body into records in file order (`line` is the 1-based entry
/// index). `None` when the body is not a well-formed `success` / `streams` response; the
/// caller then reads it with the typed reader, which names what is wrong and where.
pub(super) fn read(bytes: &[u8], src: &Arc<str>, service_label: Option<&str>) -> Option<Vec<LogRecord>> {
    let mut sink =
        Sink { src: Arc::clone(src), service_label, out: Vec::new(), meta: Vec::new(), blank: Arc::new(Labels::new()) };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let ok = BodySeed(&mut sink).deserialize(&mut de).ok()?;
    de.end().ok()?;
    ok.then_some(sink.out)
}

/// Reads a JSON object in which each of `keys` may appear at most once (a repeat is refused,
/// as the typed reader refuses it) and any other key is skipped; `on_key(i, map)` reads the
/// value of `keys[i]`. The one rule every level of the body follows.
fn each_key_once<'de, A: MapAccess<'de>, const N: usize>(
    mut map: A,
    keys: [&str; N],
    mut on_key: impl FnMut(usize, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    let mut seen = [false; N];
    while let Some(key) = map.next_key::<Cow<'de, str>>()? {
        match keys.iter().position(|k| *k == key.as_ref()) {
            Some(i) => {
                if seen.get_mut(i).is_some_and(|s| std::mem::replace(s, true)) {
                    return Err(A::Error::custom("duplicate key"));
                }
                on_key(i, &mut map)?;
            }
            None => {
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(())
}

/// The top-level object; yields whether `status` is `success` and `data.resultType` is
/// `streams`.
struct BodySeed<'s, 'o>(&'s mut Sink<'o>);

impl<'de> Visitor<'de> for BodySeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Loki query_range body")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        let (mut status, mut streams) = (None, None);
        each_key_once(map, ["status", "data"], |i, map| {
            if i == 0 {
                status = Some(map.next_value::<Cow<'de, str>>()?);
            } else {
                streams = Some(map.next_value_seed(DataSeed(&mut *self.0))?);
            }
            Ok(())
        })?;
        Ok(status.as_deref() == Some("success") && streams == Some(true))
    }
}

/// `data`: yields whether `resultType` is `streams` (and `result` was read).
struct DataSeed<'s, 'o>(&'s mut Sink<'o>);

impl<'de> Visitor<'de> for DataSeed<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a data object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<bool, A::Error> {
        let (mut kind, mut read) = (None, false);
        each_key_once(map, ["resultType", "result"], |i, map| {
            if i == 0 {
                kind = Some(map.next_value::<Cow<'de, str>>()?);
            } else {
                map.next_value_seed(StreamsSeed(&mut *self.0))?;
                read = true;
            }
            Ok(())
        })?;
        Ok(read && kind.as_deref() == Some("streams"))
    }
}

/// `result`: the array of streams.
struct StreamsSeed<'s, 'o>(&'s mut Sink<'o>);

impl<'de> Visitor<'de> for StreamsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of streams")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(StreamSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One stream: its labels and its entries, in either key order.
struct StreamSeed<'s, 'o>(&'s mut Sink<'o>);

impl<'de> Visitor<'de> for StreamSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a stream object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let sink = self.0;
        let start = sink.out.len();
        let meta_start = sink.meta.len();
        let mut stream = None;
        each_key_once(map, ["stream", "values"], |i, map| {
            if i == 0 {
                stream = Some(map.next_value::<BTreeMap<String, String>>()?);
            } else {
                map.next_value_seed(ValuesSeed(&mut *sink))?;
            }
            Ok(())
        })?;
        // the stream's labels are known only now: give them to its records
        let (labels, service, level) = stream_labels(stream.unwrap_or_default(), sink.service_label);
        for r in sink.out.get_mut(start..).unwrap_or_default() {
            r.labels = Arc::clone(&labels);
            r.service.clone_from(&service);
            r.level = level;
        }
        for (i, meta) in sink.meta.drain(meta_start..) {
            if let Some(r) = sink.out.get_mut(i) {
                add_meta(&mut r.labels, meta);
            }
        }
        Ok(())
    }
}

/// `values`: the entries, each turned into a record as it is read.
struct ValuesSeed<'s, 'o>(&'s mut Sink<'o>);

impl<'de> Visitor<'de> for ValuesSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let sink = self.0;
        if let Some(n) = seq.size_hint() {
            sink.out.reserve(n);
        }
        while let Some(entry) = seq.next_element::<Entry<'de>>()? {
            let ts = parse_ns(&entry.ts).ok_or_else(|| A::Error::custom("bad timestamp"))?;
            let at = sink.out.len();
            if let Some(meta) = entry.meta {
                sink.meta.push((at, meta));
            }
            sink.out.push(LogRecord {
                source: Arc::clone(&sink.src),
                line: at as u64 + 1,
                timestamp: Some(ts),
                service: None,
                level: None,
                labels: Arc::clone(&sink.blank),
                message: entry.line.into_owned(),
            });
        }
        Ok(())
    }
}
