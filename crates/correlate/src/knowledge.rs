//! Knowledge retrieval: runbook, postmortem and ADR sections found for a hypothesis.
//!
//! Every Markdown section (a heading and the lines under it) is indexed twice:
//! - lexically, with BM25 (`k1` 1.2, `b` 0.75) over lowercase words, a short English stop list
//!   removed and plurals folded (`errors` matches `error`);
//! - as a vector, with the built-in hashed embedding of [`faultlens_detect::logs::embed`] (or
//!   the caller's own vectors) in an HNSW index (hnsw_rs), re-ranked by exact cosine.
//!
//! The two scores are fused as `lexical_weight * bm25 / (bm25 + bm25_half) + (1 -
//! lexical_weight) * max(0, cosine)`, a number in `[0, 1]`. A section is cited only when the
//! fused score reaches [`crate::AnalyzeConfig::min_citation_score`] (0.35 by default) **and** it
//! shares at least one query term: no match, no citation.

use std::collections::{BTreeMap, BTreeSet};

use faultlens_core::{Citation, ContentHash, Hypothesis, HypothesisKind, KnowledgeDoc};
use faultlens_detect::logs::{LogSignal, cosine, embed};
use hnsw_rs::prelude::{DistCosine, Hnsw};
use serde::{Deserialize, Serialize};

use crate::config::AnalyzeConfig;
use crate::rank::ServiceScore;
use crate::shift::{MetricKind, SeriesShift};

/// Retrieval settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrievalConfig {
    /// BM25 term-frequency saturation.
    pub k1: f64,
    /// BM25 length normalisation.
    pub b: f64,
    /// BM25 score at which the lexical part is one half.
    pub bm25_half: f64,
    /// Weight of the lexical part in the fused score (the rest is the vector part).
    pub lexical_weight: f64,
    /// Dimension of the built-in embedding.
    pub dim: usize,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self { k1: 1.2, b: 0.75, bm25_half: 4.0, lexical_weight: 0.6, dim: 256 }
    }
}

impl RetrievalConfig {
    /// Sets [`Self::lexical_weight`].
    #[must_use]
    pub fn with_lexical_weight(mut self, w: f64) -> Self {
        self.lexical_weight = w;
        self
    }

    /// Sets [`Self::dim`].
    #[must_use]
    pub fn with_dim(mut self, dim: usize) -> Self {
        self.dim = dim;
        self
    }
}

/// One indexed section.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    headings: Vec<String>,
    line_start: u64,
    line_end: u64,
    sha256: ContentHash,
    tf: BTreeMap<String, u32>,
    len: u32,
}

/// A search hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The section, as a citation (its `score` is the fused score).
    pub citation: Citation,
    /// BM25 score.
    pub bm25: f64,
    /// Cosine similarity of the vectors.
    pub cosine: f64,
}

/// A hybrid (BM25 and HNSW) index over knowledge sections.
pub struct KnowledgeIndex {
    config: RetrievalConfig,
    entries: Vec<Entry>,
    df: BTreeMap<String, u32>,
    avg_len: f64,
    vectors: Vec<Vec<f32>>,
    hnsw: Hnsw<'static, f32, DistCosine>,
}

impl std::fmt::Debug for KnowledgeIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeIndex").field("config", &self.config).field("sections", &self.entries.len()).finish()
    }
}

const STOP: &[&str] = &[
    "the", "and", "for", "with", "that", "this", "from", "are", "was", "were", "its", "it's", "not", "but", "you",
    "your", "into", "than", "then", "when", "what", "which", "who", "all", "any", "every", "has", "have", "had",
    "been", "will", "can", "may", "our", "out", "one", "two", "per", "use", "via", "of", "to", "in", "on", "at", "by",
    "an", "a", "or", "is", "be", "as", "if", "do", "no", "so", "up",
];

/// The index terms of a text: lowercase alphanumeric words of two or more characters, stop
/// words removed, a final `s` folded (`errors` -> `error`).
#[must_use]
pub fn terms(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .filter(|w| !STOP.contains(&w.as_str()))
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_string(),
            _ => w,
        })
        .collect()
}

impl KnowledgeIndex {
    /// Indexes every section of `docs` with the built-in embedding.
    ///
    /// # Errors
    /// [`crate::Error::Knowledge`] when `dim` is 0.
    pub fn build(docs: &[KnowledgeDoc], config: &RetrievalConfig) -> Result<Self, crate::Error> {
        Self::build_with_vectors(docs, None, config)
    }

    /// Indexes every section of `docs`; `vectors`, when given, holds one vector per section in
    /// document then section order (for an embedding of your own).
    ///
    /// # Errors
    /// [`crate::Error::Knowledge`] when `dim` is 0, or when the vectors do not match the sections
    /// in number, dimension, or finiteness.
    pub fn build_with_vectors(
        docs: &[KnowledgeDoc],
        vectors: Option<Vec<Vec<f32>>>,
        config: &RetrievalConfig,
    ) -> Result<Self, crate::Error> {
        if config.dim == 0 {
            return Err(crate::Error::Knowledge("dim must be positive".into()));
        }
        let mut entries = Vec::new();
        let mut texts = Vec::new();
        for d in docs {
            for s in &d.sections {
                let t = terms(&s.text);
                let mut tf = BTreeMap::new();
                for w in &t {
                    *tf.entry(w.clone()).or_insert(0u32) += 1;
                }
                entries.push(Entry {
                    path: d.path.clone(),
                    headings: s.headings.clone(),
                    line_start: s.line_start,
                    line_end: s.line_end,
                    sha256: ContentHash::of(s.text.as_bytes()),
                    len: u32::try_from(t.len()).unwrap_or(u32::MAX),
                    tf,
                });
                // the section is read with its document's title, so a short section keeps its context
                texts.push(format!("{} {}", s.headings.join(" "), s.text));
            }
        }
        let vectors = match vectors {
            Some(v) => {
                if v.len() != entries.len() {
                    return Err(crate::Error::Knowledge(format!("{} vectors for {} sections", v.len(), entries.len())));
                }
                let dim = v.first().map_or(config.dim, Vec::len);
                if let Some(i) = v.iter().position(|x| x.len() != dim || dim == 0 || x.iter().any(|f| !f.is_finite())) {
                    return Err(crate::Error::Knowledge(format!(
                        "vector {i} has the wrong dimension or a non-finite value"
                    )));
                }
                v
            }
            None => texts.iter().map(|t| embed(t, config.dim)).collect(),
        };
        let mut df = BTreeMap::new();
        for e in &entries {
            for w in e.tf.keys() {
                *df.entry(w.clone()).or_insert(0u32) += 1;
            }
        }
        let avg_len = entries.iter().map(|e| f64::from(e.len)).sum::<f64>() / entries.len().max(1) as f64;
        let hnsw = Hnsw::new(16, entries.len().max(16), 16, 200, DistCosine {});
        for (i, v) in vectors.iter().enumerate() {
            if v.iter().any(|x| *x != 0.0) {
                hnsw.insert((v, i));
            }
        }
        Ok(Self { config: config.clone(), entries, df, avg_len, vectors, hnsw })
    }

    /// Sections in the index.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn bm25(&self, e: &Entry, query: &BTreeSet<String>) -> (f64, Vec<String>) {
        let n = self.entries.len() as f64;
        let (k1, b) = (self.config.k1, self.config.b);
        let mut score = 0.0;
        let mut matched = Vec::new();
        for q in query {
            let Some(&f) = e.tf.get(q) else { continue };
            let df = f64::from(self.df.get(q).copied().unwrap_or(0));
            let idf = ((n - df + 0.5) / (df + 0.5)).ln_1p();
            let f = f64::from(f);
            score += idf * f * (k1 + 1.0) / (f + k1 * (1.0 - b + b * f64::from(e.len) / self.avg_len.max(1.0)));
            matched.push(q.clone());
        }
        (score, matched)
    }

    /// The best `k` sections for a free-text query (built-in embedding for the vector part).
    #[must_use]
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        let q = embed(query, self.config.dim);
        self.search_with_vector(query, &q, k)
    }

    /// The best `k` sections for a query text and its vector (same dimension as the index's).
    #[must_use]
    pub fn search_with_vector(&self, query: &str, vector: &[f32], k: usize) -> Vec<Hit> {
        if k == 0 || self.entries.is_empty() {
            return Vec::new();
        }
        let qterms: BTreeSet<String> = terms(query).into_iter().collect();
        // candidates: every section with a query term, plus the HNSW neighbours of the vector
        let mut cand: BTreeSet<usize> = (0..self.entries.len())
            .filter(|&i| self.entries.get(i).is_some_and(|e| qterms.iter().any(|q| e.tf.contains_key(q))))
            .collect();
        if vector.iter().any(|x| *x != 0.0) && vector.len() == self.vectors.first().map_or(0, Vec::len) {
            let want = (4 * k).min(self.entries.len());
            cand.extend(self.hnsw.search(vector, want, want.max(64)).iter().map(|n| n.d_id));
        }
        let w = self.config.lexical_weight.clamp(0.0, 1.0);
        let mut hits: Vec<Hit> = cand
            .into_iter()
            .filter_map(|i| {
                let e = self.entries.get(i)?;
                let (bm25, matched) = self.bm25(e, &qterms);
                let cosine = f64::from(cosine(vector, self.vectors.get(i)?));
                let lexical = bm25 / (bm25 + self.config.bm25_half);
                let score = w * lexical + (1.0 - w) * cosine.max(0.0);
                Some(Hit {
                    citation: Citation {
                        path: e.path.clone(),
                        headings: e.headings.clone(),
                        line_start: e.line_start,
                        line_end: e.line_end,
                        sha256: e.sha256,
                        score: (score * 1e4).round() / 1e4,
                        matched_terms: matched,
                    },
                    bm25,
                    cosine,
                })
            })
            .collect();
        hits.sort_by(|a, b| {
            b.citation
                .score
                .total_cmp(&a.citation.score)
                .then_with(|| a.citation.path.cmp(&b.citation.path))
                .then_with(|| a.citation.line_start.cmp(&b.citation.line_start))
        });
        hits.truncate(k);
        hits
    }

    /// The citations for a hypothesis: its query (see [`hypothesis_query`]) searched, hits
    /// below the threshold or matching no term dropped.
    pub(crate) fn cite(
        &self,
        h: &Hypothesis,
        services: &[ServiceScore],
        shifts: &[SeriesShift],
        logs: &[LogSignal],
        config: &AnalyzeConfig,
    ) -> Vec<Citation> {
        let q = hypothesis_query(h, services, shifts, logs);
        self.search(&q, config.citations_per_hypothesis)
            .into_iter()
            .filter(|hit| hit.citation.score >= config.min_citation_score && !hit.citation.matched_terms.is_empty())
            .map(|hit| hit.citation)
            .collect()
    }
}

/// The retrieval query of a hypothesis: words for its kind and its strongest signals (the kind
/// of metric that moved and which way, the change kind, the log templates' words) and the
/// service's name.
#[must_use]
pub(crate) fn hypothesis_query(
    h: &Hypothesis,
    services: &[ServiceScore],
    shifts: &[SeriesShift],
    logs: &[LogSignal],
) -> String {
    let mut q: Vec<String> = Vec::new();
    let s = h.service.as_deref().and_then(|name| services.iter().find(|s| s.service == name));
    match h.kind {
        HypothesisKind::Change => q.push("bad deploy release rollback change".into()),
        HypothesisKind::Resource => {}
        HypothesisKind::Traffic => q.push("traffic surge load requests rate limit scale".into()),
        HypothesisKind::Dependency => q.push("dependency outage failing upstream".into()),
        HypothesisKind::Service | HypothesisKind::Unknown => {}
    }
    if let Some(s) = s {
        q.push(s.service.clone());
        if let Some(t) = s.series.first().and_then(|&i| shifts.get(i)) {
            let metric = t.metric.to_lowercase();
            q.push(match t.kind {
                MetricKind::Errors => "high error rate errors 5xx".into(),
                MetricKind::Latency => "high latency slow p99".into(),
                MetricKind::Traffic => "traffic requests rate".into(),
                MetricKind::Resource if metric.contains("mem") || metric.contains("heap") => "memory leak oom".into(),
                MetricKind::Resource if metric.contains("cpu") => "cpu saturation throttling".into(),
                MetricKind::Resource => "resource exhaustion".into(),
                MetricKind::Other => String::new(),
            });
        }
        for l in s.log_signals.iter().filter_map(|&i| logs.get(i)).take(2) {
            q.push(l.template.replace("<*>", " "));
        }
    }
    q.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultlens_core::Section;

    fn doc(path: &str, sections: &[(&str, &str)]) -> KnowledgeDoc {
        let mut line = 1;
        KnowledgeDoc {
            path: path.into(),
            title: path.into(),
            sha256: ContentHash::of(path.as_bytes()),
            sections: sections
                .iter()
                .map(|(h, t)| {
                    let n = t.lines().count() as u64 + 1;
                    let s = Section {
                        headings: vec![(*h).to_string()],
                        level: 2,
                        line_start: line,
                        line_end: line + n - 1,
                        text: format!("## {h}\n{t}"),
                    };
                    line += n;
                    s
                })
                .collect(),
        }
    }

    fn corpus() -> Vec<KnowledgeDoc> {
        vec![
            doc(
                "runbooks/memory.md",
                &[("Memory leak", "Memory grows until the pod is OOM killed. Take a heap dump.")],
            ),
            doc("runbooks/cpu.md", &[("CPU saturation", "CPU at the limit; throttling raises latency. Scale out.")]),
            doc("runbooks/errors.md", &[("High error rate", "5xx errors above the SLO. Roll back the release.")]),
        ]
    }

    #[test]
    fn terms_fold_plurals_and_drop_stop_words() {
        assert_eq!(terms("The errors of the Pods"), ["error", "pod"]);
    }

    #[test]
    fn search_ranks_the_matching_section_first() {
        let idx = KnowledgeIndex::build(&corpus(), &RetrievalConfig::default()).unwrap();
        let hits = idx.search("memory leak oom", 3);
        assert_eq!(hits[0].citation.path, "runbooks/memory.md");
        assert!(hits[0].citation.matched_terms.contains(&"memory".to_string()));
        assert!(hits[0].citation.score > hits.get(1).map_or(0.0, |h| h.citation.score));
    }

    #[test]
    fn a_query_without_shared_terms_matches_nothing_lexically() {
        let idx = KnowledgeIndex::build(&corpus(), &RetrievalConfig::default()).unwrap();
        for h in idx.search("zebra quokka", 3) {
            assert!(h.citation.matched_terms.is_empty());
            assert!(h.citation.score < AnalyzeConfig::default().min_citation_score);
        }
    }

    #[test]
    fn own_vectors_are_checked() {
        let bad =
            KnowledgeIndex::build_with_vectors(&corpus(), Some(vec![vec![1.0; 4]; 2]), &RetrievalConfig::default());
        assert!(bad.is_err());
        let nan = KnowledgeIndex::build_with_vectors(
            &corpus(),
            Some(vec![vec![f32::NAN; 4]; 3]),
            &RetrievalConfig::default(),
        );
        assert!(nan.is_err());
        let ok = KnowledgeIndex::build_with_vectors(
            &corpus(),
            Some(vec![vec![1.0, 0.0], vec![0.0, 1.0], vec![0.7, 0.7]]),
            &RetrievalConfig::default(),
        )
        .unwrap();
        let hits = ok.search_with_vector("cpu", &[0.0, 1.0], 1);
        assert_eq!(hits[0].citation.path, "runbooks/cpu.md");
    }
}
