//! Similar-template search by an HNSW index (hnsw_rs) over template embeddings.
//!
//! The built-in embedding ([`embed`]) hashes a template's constant words, their lowercase
//! pieces (`getTodaySteps` gives `get`, `today`, `steps`) and word bigrams into a fixed number of
//! signed dimensions, L2-normalised; users can insert their own vectors instead.
//!
//! Search is deterministic: HNSW's layers come from a seeded generator, and its candidates are
//! re-ranked by exact cosine similarity with ties broken by id.

use hnsw_rs::prelude::{DistCosine, Hnsw};
use serde::{Deserialize, Serialize};

use super::mask::WILDCARD;
use super::miner::{Template, TemplateId};

/// Errors of the template index.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimilarityError {
    /// A vector's length differs from the index's dimension.
    #[error("vector for `{id}` has {got} dimensions, the index has {expected}")]
    Dimension {
        /// The template.
        id: String,
        /// The index's dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// A vector holds NaN or an infinity, or is all zeros.
    #[error("vector for `{id}` is not finite and non-zero")]
    BadVector {
        /// The template.
        id: String,
    },
    /// The configuration cannot work.
    #[error("invalid index configuration: {0}")]
    Config(String),
}

/// Settings of [`TemplateIndex`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Dimensions of the built-in embedding.
    pub dim: usize,
    /// HNSW links per node and layer (at most 256).
    pub max_connections: usize,
    /// HNSW candidate list size while building.
    pub ef_construction: usize,
    /// HNSW candidate list size while searching (at least `k`).
    pub ef_search: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        Self { dim: 256, max_connections: 16, ef_construction: 200, ef_search: 64 }
    }
}

impl IndexConfig {
    /// Sets [`Self::dim`].
    #[must_use]
    pub fn with_dim(mut self, dim: usize) -> Self {
        self.dim = dim;
        self
    }
}

/// A search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarTemplate {
    /// The template's id.
    pub id: TemplateId,
    /// Its text (empty for a vector inserted without text).
    pub text: String,
    /// Cosine similarity to the query, in `[-1, 1]`.
    pub similarity: f32,
}

/// The words of a template that carry meaning: constant tokens and their lowercase pieces.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for tok in text.split(' ').filter(|t| !t.contains(WILDCARD)) {
        let core = tok.trim_matches(|c: char| !c.is_alphanumeric());
        if core.is_empty() {
            continue;
        }
        out.push(core.to_lowercase());
        // camelCase and snake_case pieces
        let mut piece = String::new();
        let mut prev_lower = false;
        for c in core.chars() {
            let boundary = !c.is_alphanumeric() || c.is_uppercase() && prev_lower;
            if boundary && !piece.is_empty() {
                out.push(std::mem::take(&mut piece));
            }
            if c.is_alphanumeric() {
                piece.extend(c.to_lowercase());
            }
            prev_lower = c.is_lowercase();
        }
        if !piece.is_empty() && piece.len() < core.len() {
            out.push(piece);
        }
    }
    out
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The built-in embedding of a template text: signed feature hashing of its words and word
/// bigrams into `dim` dimensions, L2-normalised (all zeros for a text without words).
#[must_use]
pub fn embed(text: &str, dim: usize) -> Vec<f32> {
    let dim = dim.max(1);
    let mut v = vec![0f32; dim];
    let w = words(text);
    let mut add = |key: &str, weight: f32| {
        let h = fnv(key.as_bytes());
        let i = (h % dim as u64) as usize;
        let sign = if h >> 63 == 0 { 1.0 } else { -1.0 };
        if let Some(x) = v.get_mut(i) {
            *x += sign * weight;
        }
    };
    for word in &w {
        add(word, 1.0);
    }
    for pair in w.windows(2) {
        if let [a, b] = pair {
            add(&format!("{a} {b}"), 0.5);
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        for x in &mut v {
            *x /= norm;
        }
    }
    v
}

/// Cosine similarity of two vectors (0 when either is all zeros).
#[must_use]
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}

/// An HNSW index over template vectors, for "which known templates look like this one".
pub struct TemplateIndex {
    config: IndexConfig,
    ids: Vec<TemplateId>,
    texts: Vec<String>,
    vectors: Vec<Vec<f32>>,
    hnsw: Hnsw<'static, f32, DistCosine>,
}

impl std::fmt::Debug for TemplateIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateIndex").field("config", &self.config).field("len", &self.ids.len()).finish()
    }
}

impl TemplateIndex {
    /// An empty index.
    ///
    /// # Errors
    /// [`SimilarityError::Config`] when a setting is out of range (hnsw_rs would end the
    /// process on more than 256 connections; this refuses instead).
    pub fn new(config: IndexConfig) -> Result<Self, SimilarityError> {
        if config.dim == 0 || config.max_connections == 0 || config.max_connections > 256 {
            return Err(SimilarityError::Config(format!(
                "dim must be positive and max_connections in 1..=256 (got {} and {})",
                config.dim, config.max_connections
            )));
        }
        let hnsw = Hnsw::new(config.max_connections, 10_000, 16, config.ef_construction.max(1), DistCosine {});
        Ok(Self { config, ids: Vec::new(), texts: Vec::new(), vectors: Vec::new(), hnsw })
    }

    /// An index of templates with the built-in embedding.
    ///
    /// # Errors
    /// As [`Self::new`].
    pub fn from_templates(templates: &[Template], config: IndexConfig) -> Result<Self, SimilarityError> {
        let mut index = Self::new(config)?;
        for t in templates {
            // a template without words has no direction to compare; it is left out
            let _ = index.insert(t.id.clone(), &t.text, None);
        }
        Ok(index)
    }

    /// Inserts a template with its own vector, or with the built-in embedding of `text` when
    /// `vector` is `None`.
    ///
    /// # Errors
    /// [`SimilarityError::Dimension`] or [`SimilarityError::BadVector`].
    pub fn insert(&mut self, id: TemplateId, text: &str, vector: Option<Vec<f32>>) -> Result<(), SimilarityError> {
        let v = vector.unwrap_or_else(|| embed(text, self.config.dim));
        self.check(&id.0, &v)?;
        let n = self.ids.len();
        self.hnsw.insert((&v, n));
        self.ids.push(id);
        self.texts.push(text.to_string());
        self.vectors.push(v);
        Ok(())
    }

    fn check(&self, id: &str, v: &[f32]) -> Result<(), SimilarityError> {
        if v.len() != self.config.dim {
            return Err(SimilarityError::Dimension { id: id.to_string(), expected: self.config.dim, got: v.len() });
        }
        if v.iter().any(|x| !x.is_finite()) || v.iter().all(|x| *x == 0.0) {
            return Err(SimilarityError::BadVector { id: id.to_string() });
        }
        Ok(())
    }

    /// Templates in the index.
    #[must_use]
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the index is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `k` templates most similar to a text (built-in embedding).
    #[must_use]
    pub fn search(&self, text: &str, k: usize) -> Vec<SimilarTemplate> {
        let q = embed(text, self.config.dim);
        self.search_vector(&q, k).unwrap_or_default()
    }

    /// The `k` templates most similar to a vector.
    ///
    /// # Errors
    /// [`SimilarityError::Dimension`] or [`SimilarityError::BadVector`] for a bad query.
    pub fn search_vector(&self, q: &[f32], k: usize) -> Result<Vec<SimilarTemplate>, SimilarityError> {
        self.check("query", q)?;
        if k == 0 || self.ids.is_empty() {
            return Ok(Vec::new());
        }
        // HNSW proposes candidates (four times as many as asked); exact cosine ranks them
        let want = (4 * k).min(self.ids.len());
        let mut cand: Vec<usize> =
            self.hnsw.search(q, want, self.config.ef_search.max(want)).iter().map(|n| n.d_id).collect();
        cand.sort_unstable();
        cand.dedup();
        let mut hits: Vec<SimilarTemplate> = cand
            .into_iter()
            .filter_map(|i| {
                Some(SimilarTemplate {
                    id: self.ids.get(i)?.clone(),
                    text: self.texts.get(i)?.clone(),
                    similarity: cosine(q, self.vectors.get(i)?),
                })
            })
            .collect();
        hits.sort_by(|a, b| b.similarity.total_cmp(&a.similarity).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(k);
        Ok(hits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Template {
        Template { id: TemplateId::of(text), text: text.into(), count: 1 }
    }

    #[test]
    fn embedding_is_normalised_and_stable() {
        let a = embed("getTodayTotalDetailSteps = <*>", 64);
        assert!((a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(a, embed("getTodayTotalDetailSteps = <*>", 64));
        assert!(embed("<*> <*>", 64).iter().all(|x| *x == 0.0));
        assert!(words("getTodaySteps").contains(&"today".to_string()));
    }

    #[test]
    fn search_finds_the_closest_templates() {
        let templates: Vec<Template> = [
            "Received block <*> of size <*> from <*>",
            "Receiving block <*> src: <*> dest: <*>",
            "PacketResponder <*> for block <*> terminating",
            "Deleting block <*> file <*>",
            "connection refused to <*>",
            "user <*> logged in from <*>",
        ]
        .iter()
        .map(|s| t(s))
        .collect();
        let index = TemplateIndex::from_templates(&templates, IndexConfig::default()).unwrap();
        let hits = index.search("Received block <*> of size <*> from <*> twice", 2);
        assert_eq!(hits.first().map(|h| h.text.as_str()), Some("Received block <*> of size <*> from <*>"));
        assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        assert_eq!(index.search("user <*> logged out from <*>", 1)[0].text, "user <*> logged in from <*>");
    }

    #[test]
    fn user_vectors_are_checked() {
        let mut index = TemplateIndex::new(IndexConfig::default().with_dim(3)).unwrap();
        index.insert(TemplateId::of("a"), "a", Some(vec![1.0, 0.0, 0.0])).unwrap();
        index.insert(TemplateId::of("b"), "b", Some(vec![0.0, 1.0, 0.0])).unwrap();
        assert!(matches!(
            index.insert(TemplateId::of("c"), "c", Some(vec![1.0])),
            Err(SimilarityError::Dimension { .. })
        ));
        assert!(matches!(
            index.insert(TemplateId::of("d"), "d", Some(vec![f32::NAN, 0.0, 0.0])),
            Err(SimilarityError::BadVector { .. })
        ));
        assert_eq!(index.search_vector(&[0.9, 0.1, 0.0], 1).unwrap()[0].text, "a");
        assert!(TemplateIndex::new(IndexConfig { max_connections: 300, ..IndexConfig::default() }).is_err());
    }
}
