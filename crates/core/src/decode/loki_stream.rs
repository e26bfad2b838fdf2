//! The one-pass reader behind [`super::loki::decode`]: entries become [`LogRecord`]s as the
//! JSON is read, with no intermediate list of entries (a million-line body would otherwise
//! hold a second copy of its index in memory). It answers only for well-formed bodies; on
//! anything else it gives up, and the typed reader runs to report the error with its path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

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

/// What an object of two named keys held: each key's value, `None` where it was absent.
type TwoKeys<A, B> = (Option<A>, Option<B>);

/// Reads a JSON object with two named keys, the first read as a `T` and the second through
/// `seed`; each may appear at most once (a repeat is refused, as the typed reader refuses it)
/// and any other key is skipped. The one rule every level of the body follows: `status` and
/// `data`, `resultType` and `result`, `stream` and `values`.
fn two_keys<'de, A: MapAccess<'de>, T: Deserialize<'de>, S: DeserializeSeed<'de>>(
    mut map: A,
    [first_key, second_key]: [&str; 2],
    seed: S,
) -> Result<TwoKeys<T, S::Value>, A::Error> {
    let (mut first, mut second, mut seed) = (None, None, Some(seed));
    while let Some(key) = map.next_key::<Cow<'de, str>>()? {
        if key == first_key {
            if first.is_some() {
                return Err(A::Error::custom("duplicate key"));
            }
            first = Some(map.next_value::<T>()?);
        } else if key == second_key {
            // the seed is used up by the first `second_key`: a second one is a repeat
            let seed = seed.take().ok_or_else(|| A::Error::custom("duplicate key"))?;
            second = Some(map.next_value_seed(seed)?);
        } else {
            map.next_value::<IgnoredAny>()?;
        }
    }
    Ok((first, second))
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
        let (status, streams) = two_keys::<_, Cow<'de, str>, _>(map, ["status", "data"], DataSeed(self.0))?;
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
        let (kind, read) = two_keys::<_, Cow<'de, str>, _>(map, ["resultType", "result"], StreamsSeed(self.0))?;
        Ok(read.is_some() && kind.as_deref() == Some("streams"))
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
        let (stream, _) =
            two_keys::<_, BTreeMap<String, String>, _>(map, ["stream", "values"], ValuesSeed(&mut *sink))?;
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
