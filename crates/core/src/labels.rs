//! Label sets and service identity.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Labels consulted, in order, to find the service a series, stream or change belongs to
/// (bundle spec v1, "Service identity").
pub const SERVICE_LABELS: [&str; 5] = ["service", "app", "app_kubernetes_io_name", "job", "container"];

/// Labels consulted, in order, to find the version of the workload a series comes from.
pub const VERSION_LABELS: [&str; 3] = ["version", "app_kubernetes_io_version", "app.kubernetes.io/version"];

/// An ordered set of `name -> value` labels.
///
/// ```
/// use faultlens_core::Labels;
/// let l = Labels::from_pairs([("job", "api"), ("app", "checkout")]);
/// assert_eq!(l.service(None), Some("checkout"));
/// assert_eq!(l.service(Some("job")), Some("api"));
/// assert_eq!(l.selector("up"), r#"up{app="checkout",job="api"}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Labels(BTreeMap<String, String>);

impl Labels {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from pairs; a later pair wins over an earlier one with the same name.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        Self(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets `name` to `value`, returning the previous value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) -> Option<String> {
        self.0.insert(name.into(), value.into())
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Number of labels.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no labels.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The service these labels name: `preferred` first, then [`SERVICE_LABELS`] in order;
    /// empty values are skipped.
    #[must_use]
    pub fn service(&self, preferred: Option<&str>) -> Option<&str> {
        preferred.into_iter().chain(SERVICE_LABELS).filter_map(|k| self.get(k)).find(|v| !v.is_empty())
    }

    /// The workload version these labels name, from the first of [`VERSION_LABELS`] present.
    #[must_use]
    pub fn version(&self) -> Option<&str> {
        VERSION_LABELS.iter().find_map(|k| self.get(k))
    }

    /// A PromQL-style selector `name{a="x",b="y"}`; values are escaped as PromQL strings.
    #[must_use]
    pub fn selector(&self, name: &str) -> String {
        let mut s = String::from(name);
        if self.0.is_empty() {
            return s;
        }
        s.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            s.push_str(k);
            s.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => s.push_str("\\\\"),
                    '"' => s.push_str("\\\""),
                    '\n' => s.push_str("\\n"),
                    c if c.is_control() => {
                        let _ = write!(s, "\\u{{{:x}}}", c as u32);
                    }
                    c => s.push(c),
                }
            }
            s.push('"');
        }
        s.push('}');
        s
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Labels {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_pairs(iter)
    }
}

impl From<BTreeMap<String, String>> for Labels {
    fn from(m: BTreeMap<String, String>) -> Self {
        Self(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_order_follows_the_spec() {
        let l = Labels::from_pairs([("container", "c"), ("job", "j")]);
        assert_eq!(l.service(None), Some("j"));
        let l = Labels::from_pairs([("service", ""), ("app", "a")]);
        assert_eq!(l.service(None), Some("a"));
        assert_eq!(Labels::new().service(None), None);
    }

    #[test]
    fn selector_escapes_hostile_values() {
        let l = Labels::from_pairs([("a", "x\"}\n")]);
        assert_eq!(l.selector("m"), "m{a=\"x\\\"}\\n\"}");
    }
}
