//! The streaming template miner.
//!
//! Each message is masked ([`super::mask`]) and looked up by its masked text: lines that mask
//! to the same text form a *cluster*. A message that masks to new text but fits a template that
//! already has variables joins that template's own cluster, so memory follows templates, not
//! distinct lines; a protected token (a severity word, an HTTP method) fits no variable.
//! Clusters are grouped into *templates* by consolidation, a deterministic function of the set
//! of clusters and their counts: within each token count, the clusters are split recursively
//! on the column that looks most like a constant (the first token, a column with few distinct
//! values, a protected token); what remains varying becomes `<*>`; templates that share their
//! constant words merge across lengths; at [`TemplateMiner::finish`] and [`TemplateMiner::merge`],
//! near-duplicate templates found by MinHash LSH merge too.
//! Consolidation runs whenever the number of clusters has doubled since the last one, so its
//! cost is amortised; between runs a new cluster joins the most specific template it fits.
//!
//! Memory is capped by [`MinerConfig::max_clusters`]: beyond it the least used clusters are
//! evicted and counted ([`MinerStats::evicted`]); their lines resolve to the [`EVICTED`]
//! template, and each keeps a record of a few dozen bytes so its handle stays valid.
//!
//! Template ids are content hashes of the template text, so they are the same across runs,
//! shards and processes. Merging the states of miners that ran on shards gives the templates of
//! one miner over the whole input up to this tolerance: which variants were folded into a
//! template's own cluster depends on when consolidations ran, so a template's punctuation can
//! differ. Measured with `examples/merge_check` on the eight loghub-2k dev sets, split into 2
//! and into 4 contiguous shards: every line got the same template text in 15 of the 16 runs; in
//! the 16th (Mac, 4 shards) 166 lines (8.3%) got `<*> scheduler...` instead of
//! `<*>: scheduler...`, grouping the same lines. Lines mined on a shard find their template in
//! the merged state with [`TemplateMiner::classify`].

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::mask::{WILDCARD, is_protected, mask_message, merge_adjacent};

/// FxHash-style hashing of the masked-message keys: the keys are ours (masked, capped in
/// length), so SipHash's flooding defence buys nothing here, and this is several times cheaper.
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
}

type FastHash = BuildHasherDefault<FastHasher>;

/// Settings of the template miner. The defaults are the one configuration used everywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MinerConfig {
    /// Most clusters (distinct masked messages) kept; beyond it the least used are evicted.
    pub max_clusters: usize,
    /// Bytes of a message that are mined; the rest becomes one trailing `<*>`.
    pub max_message_bytes: usize,
    /// Tokens of a message that are mined; the rest becomes one trailing `<*>`.
    pub max_tokens: usize,
    /// A column with at most this many distinct values (and no `<*>` among them) is taken as
    /// a constant that tells templates apart; with more, it is a variable.
    pub max_categories: usize,
    /// Consolidate when the clusters have grown by this fraction since the last consolidation
    /// (1 doubles: the amortised cost per new cluster stays constant).
    pub growth: f64,
    /// Templates of one length whose word and bigram shingles have at least this Jaccard
    /// similarity (found by MinHash LSH) are merged, what differs becoming `<*>`; above 1
    /// turns it off. Columns holding protected tokens never merge.
    pub near_duplicate: f64,
}

impl Default for MinerConfig {
    fn default() -> Self {
        Self {
            max_clusters: 50_000,
            max_message_bytes: 16 * 1024,
            max_tokens: 256,
            max_categories: 4,
            growth: 1.0,
            near_duplicate: 0.8,
        }
    }
}

impl MinerConfig {
    /// Sets [`Self::max_clusters`].
    #[must_use]
    pub fn with_max_clusters(mut self, n: usize) -> Self {
        self.max_clusters = n.max(1);
        self
    }

    /// Sets [`Self::max_categories`].
    #[must_use]
    pub fn with_max_categories(mut self, n: usize) -> Self {
        self.max_categories = n;
        self
    }

    /// Sets [`Self::max_message_bytes`].
    #[must_use]
    pub fn with_max_message_bytes(mut self, n: usize) -> Self {
        self.max_message_bytes = n.max(16);
        self
    }
}

/// The template of lines whose cluster was evicted under [`MinerConfig::max_clusters`].
pub const EVICTED: &str = "<evicted>";

/// `Cluster::template` of an evicted cluster.
const EVICTED_SLOT: u32 = u32::MAX;

/// A template's stable id: `T` and 16 hex digits of the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateId(pub String);

impl TemplateId {
    /// The id of a template text.
    #[must_use]
    pub fn of(text: &str) -> Self {
        let digest = Sha256::digest(text.as_bytes());
        let mut s = String::with_capacity(17);
        s.push('T');
        for b in digest.iter().take(8) {
            s.push_str(&format!("{b:02x}"));
        }
        Self(s)
    }
}

impl std::fmt::Display for TemplateId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mined template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Stable id (a hash of `text`).
    pub id: TemplateId,
    /// The template, with `<*>` for variable parts.
    pub text: String,
    /// Lines assigned to it.
    pub count: u64,
}

/// A cluster handle: which distinct masked message a line was, resolvable to its template
/// with [`TemplateMiner::template_of`] at any time (templates may generalise as more lines
/// arrive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterId(pub u32);

/// Counters of what the miner did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MinerStats {
    /// Lines mined.
    pub lines: u64,
    /// Lines whose message was cut at [`MinerConfig::max_message_bytes`] or
    /// [`MinerConfig::max_tokens`].
    pub truncated: u64,
    /// Clusters evicted under [`MinerConfig::max_clusters`].
    pub evicted: u64,
    /// Consolidations run.
    pub consolidations: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Cluster {
    /// The masked message (emptied when evicted; eviction is marked by `template`).
    key: String,
    count: u64,
    /// Line number (in this miner) of the last line seen.
    last: u64,
    /// Index into `templates`.
    template: u32,
}

/// The streaming template miner. Its state serialises, reloads and merges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateMiner {
    config: MinerConfig,
    clusters: Vec<Cluster>,
    templates: Vec<Template>,
    stats: MinerStats,
    alive: usize,
    consolidated_at: usize,
    /// The template every evicted cluster resolves to; its count is their lines.
    evicted: Template,
    #[serde(skip)]
    index: HashMap<String, u32, FastHash>,
    #[serde(skip)]
    by_text: HashMap<String, u32>,
    /// Templates with a variable, by token count: the ones a new message can fit.
    #[serde(skip)]
    wild_by_len: HashMap<usize, Vec<u32>>,
    #[serde(skip)]
    scratch: String,
}

impl Default for TemplateMiner {
    fn default() -> Self {
        Self::new(MinerConfig::default())
    }
}

impl TemplateMiner {
    /// An empty miner.
    #[must_use]
    pub fn new(config: MinerConfig) -> Self {
        Self {
            config,
            clusters: Vec::new(),
            templates: Vec::new(),
            stats: MinerStats::default(),
            alive: 0,
            consolidated_at: 0,
            evicted: Template { id: TemplateId::of(EVICTED), text: EVICTED.to_string(), count: 0 },
            index: HashMap::default(),
            by_text: HashMap::new(),
            wild_by_len: HashMap::new(),
            scratch: String::new(),
        }
    }

    /// Rebuilds the lookup indexes after deserialising.
    fn ensure_index(&mut self) {
        if self.index.len() != self.alive {
            self.index = self
                .clusters
                .iter()
                .enumerate()
                .filter(|(_, c)| c.template != EVICTED_SLOT)
                .map(|(i, c)| (c.key.clone(), i as u32))
                .collect::<HashMap<String, u32, FastHash>>();
        }
        if self.by_text.len() != self.templates.len() {
            self.by_text = self.templates.iter().enumerate().map(|(i, t)| (t.text.clone(), i as u32)).collect();
            self.index_wild();
        }
    }

    /// Mines one message; returns its cluster (resolve it with [`Self::template_of`]).
    pub fn add(&mut self, message: &str) -> ClusterId {
        self.add_counted(message, 1)
    }

    fn add_counted(&mut self, message: &str, count: u64) -> ClusterId {
        self.ensure_index();
        self.stats.lines += count;
        let line = self.stats.lines;
        let mut scratch = std::mem::take(&mut self.scratch);
        self.mask_into(message, &mut scratch);
        let id = if let Some(&i) = self.index.get(scratch.as_str()) {
            self.bump(i, count, line);
            ClusterId(i)
        } else if let Some(t) = self.fit(&scratch) {
            // a new variant of a template that already has variables joins the template's own
            // cluster, so memory follows templates, not distinct lines
            let i = self.absorbing_cluster(t, line);
            self.bump(i, count, line);
            ClusterId(i)
        } else {
            self.new_cluster(scratch.clone(), count, line)
        };
        self.scratch = scratch;
        id
    }

    /// Counts `count` more lines for cluster `i`.
    fn bump(&mut self, i: u32, count: u64, line: u64) {
        if let Some(c) = self.clusters.get_mut(i as usize) {
            c.count += count;
            c.last = line;
            let t = c.template as usize;
            if let Some(t) = self.templates.get_mut(t) {
                t.count += count;
            }
        }
    }

    /// The cluster whose key is template `t`'s own text, created when needed.
    fn absorbing_cluster(&mut self, t: u32, line: u64) -> u32 {
        let text = self.templates.get(t as usize).map(|x| x.text.clone()).unwrap_or_default();
        if let Some(&i) = self.index.get(text.as_str()) {
            return i;
        }
        let i = self.clusters.len() as u32;
        self.index.insert(text.clone(), i);
        self.clusters.push(Cluster { key: text, count: 0, last: line, template: t });
        self.alive += 1;
        i
    }

    /// Masks a message, cutting it at the configured limits (and counting the cut).
    fn mask_into(&mut self, message: &str, out: &mut String) {
        if mask_limited(&self.config, message, out) {
            self.stats.truncated += 1;
        }
    }

    fn new_cluster(&mut self, key: String, count: u64, line: u64) -> ClusterId {
        let id = self.clusters.len() as u32;
        let template = self.fit(&key).unwrap_or_else(|| self.template_index(&key));
        if let Some(t) = self.templates.get_mut(template as usize) {
            t.count += count;
        }
        self.index.insert(key.clone(), id);
        self.clusters.push(Cluster { key, count, last: line, template });
        self.alive += 1;
        if self.alive as f64 > self.consolidated_at as f64 * (1.0 + self.config.growth) + 16.0 {
            self.consolidate();
        }
        ClusterId(id)
    }

    /// The index of the template with this text, created when new.
    fn template_index(&mut self, text: &str) -> u32 {
        if let Some(&i) = self.by_text.get(text) {
            return i;
        }
        let i = self.templates.len() as u32;
        self.templates.push(Template { id: TemplateId::of(text), text: text.to_string(), count: 0 });
        self.by_text.insert(text.to_string(), i);
        if text.contains(WILDCARD) {
            self.wild_by_len.entry(text.split(' ').count()).or_default().push(i);
        }
        i
    }

    /// Rebuilds [`Self::wild_by_len`].
    fn index_wild(&mut self) {
        self.wild_by_len.clear();
        for (i, t) in self.templates.iter().enumerate() {
            if t.text.contains(WILDCARD) {
                self.wild_by_len.entry(t.text.split(' ').count()).or_default().push(i as u32);
            }
        }
    }

    /// The most specific template with the same token count whose tokens all fit `key`.
    fn fit(&self, key: &str) -> Option<u32> {
        let candidates = self.wild_by_len.get(&key.split(' ').count())?;
        // the most specific template that fits: most tokens without a variable, then the first
        let mut best: Option<(usize, u32)> = None;
        for &i in candidates {
            let Some(t) = self.templates.get(i as usize) else { continue };
            let mut tt = t.text.split(' ');
            let mut kt = key.split(' ');
            let mut constant = 0;
            let fits = std::iter::from_fn(|| Some((tt.next()?, kt.next()?))).all(|(a, b)| {
                constant += usize::from(!a.contains(WILDCARD));
                token_fits(a, b)
            });
            if fits && best.is_none_or(|(c, _)| constant > c) {
                best = Some((constant, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// The template a message belongs to, without learning from it: its cluster's template when
    /// the message masks to a known cluster, else the most specific template with variables it
    /// fits, else the template of its token count that agrees with it on the most tokens. This
    /// is how lines mined on another shard find their template after a [`Self::merge`]; it is
    /// `None` only when no template has the message's token count.
    #[must_use]
    pub fn classify(&self, message: &str) -> Option<&Template> {
        let mut key = String::new();
        mask_limited(&self.config, message, &mut key);
        if let Some(&i) = self.index.get(key.as_str()) {
            return self.template_of(ClusterId(i));
        }
        if let Some(t) = self.fit(&key) {
            return self.templates.get(t as usize);
        }
        let n = key.split(' ').count();
        let mut best: Option<(usize, usize)> = None;
        for (i, t) in self.templates.iter().enumerate().filter(|(_, t)| t.count > 0) {
            if t.text.split(' ').count() != n {
                continue;
            }
            let agree = t.text.split(' ').zip(key.split(' ')).filter(|(a, b)| token_fits(a, b)).count();
            if best.is_none_or(|(b, _)| agree > b) {
                best = Some((agree, i));
            }
        }
        best.and_then(|(_, i)| self.templates.get(i))
    }

    /// The template a cluster belongs to now.
    #[must_use]
    pub fn template_of(&self, cluster: ClusterId) -> Option<&Template> {
        let c = self.clusters.get(cluster.0 as usize)?;
        if c.template == EVICTED_SLOT {
            return Some(&self.evicted);
        }
        self.templates.get(c.template as usize)
    }

    /// Consolidates, so that templates reflect every line seen; call it before reading final
    /// templates.
    pub fn finish(&mut self) {
        self.ensure_index();
        self.consolidate_with(true);
    }

    /// Templates with at least one line, most frequent first (ties by id).
    #[must_use]
    pub fn templates(&self) -> Vec<Template> {
        let mut v: Vec<Template> =
            self.templates.iter().chain(std::iter::once(&self.evicted)).filter(|t| t.count > 0).cloned().collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
        v
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> MinerStats {
        self.stats
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &MinerConfig {
        &self.config
    }

    /// Merges another miner's state (for example one that mined another shard) into this one
    /// and consolidates. The other miner's cluster handles are not valid here.
    pub fn merge(&mut self, other: &TemplateMiner) {
        self.ensure_index();
        let lines_before = self.stats.lines;
        for c in other.clusters.iter().filter(|c| c.template != EVICTED_SLOT) {
            if let Some(&i) = self.index.get(c.key.as_str()) {
                if let Some(mine) = self.clusters.get_mut(i as usize) {
                    mine.count += c.count;
                }
            } else {
                let id = self.clusters.len() as u32;
                self.index.insert(c.key.clone(), id);
                self.clusters.push(Cluster { key: c.key.clone(), count: c.count, last: lines_before, template: 0 });
                self.alive += 1;
            }
        }
        self.stats.lines = lines_before + other.stats.lines;
        self.stats.truncated += other.stats.truncated;
        self.stats.evicted += other.stats.evicted;
        self.evicted.count += other.evicted.count;
        self.consolidate_with(true);
    }

    /// Regroups every cluster into templates (see the module docs). The periodic runs skip the
    /// near-duplicate stage, whose MinHash pass over every template is the dearest part; it runs
    /// at [`Self::finish`] and [`Self::merge`].
    fn consolidate(&mut self) {
        self.consolidate_with(false);
    }

    fn consolidate_with(&mut self, full: bool) {
        self.stats.consolidations += 1;
        self.evict();
        // only live clusters take part (evicted ones resolve to `self.evicted`)
        let mut alive: Vec<u32> = self.index.values().copied().collect();
        alive.sort_unstable();
        let mut by_len: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for &i in &alive {
            if let Some(c) = self.clusters.get(i as usize) {
                by_len.entry(c.key.split(' ').count()).or_default().push(i);
            }
        }
        for t in &mut self.templates {
            t.count = 0;
        }
        let mut parts = Vec::new();
        for (len, ids) in by_len {
            partition(&self.clusters, ids, len, self.config.max_categories, &mut parts);
        }
        let parts = merge_by_signature(parts);
        let parts = if full {
            merge_near_duplicates(parts, self.config.near_duplicate, self.config.max_categories)
        } else {
            parts
        };
        for (members, text) in parts {
            let t = self.template_index(&text);
            for m in members {
                if let Some(c) = self.clusters.get_mut(m as usize) {
                    c.template = t;
                    let n = c.count;
                    if let Some(tt) = self.templates.get_mut(t as usize) {
                        tt.count += n;
                    }
                }
            }
        }
        self.compact_templates(&alive);
        self.consolidated_at = self.alive;
    }

    /// Drops templates no cluster refers to any more, so their number follows the live ones.
    fn compact_templates(&mut self, alive: &[u32]) {
        let mut used = vec![false; self.templates.len()];
        for c in alive.iter().filter_map(|&i| self.clusters.get(i as usize)) {
            if let Some(u) = used.get_mut(c.template as usize) {
                *u = true;
            }
        }
        if used.iter().all(|&u| u) {
            return;
        }
        let mut remap = vec![0u32; self.templates.len()];
        let mut kept = Vec::with_capacity(self.templates.len());
        for (i, t) in std::mem::take(&mut self.templates).into_iter().enumerate() {
            if used.get(i).copied().unwrap_or(false) {
                if let Some(r) = remap.get_mut(i) {
                    *r = kept.len() as u32;
                }
                kept.push(t);
            }
        }
        self.templates = kept;
        for &i in alive {
            if let Some(c) = self.clusters.get_mut(i as usize) {
                c.template = remap.get(c.template as usize).copied().unwrap_or(0);
            }
        }
        self.by_text = self.templates.iter().enumerate().map(|(i, t)| (t.text.clone(), i as u32)).collect();
        self.index_wild();
    }

    /// Evicts the least used clusters (fewest lines, then least recent) down to 90% of the cap.
    fn evict(&mut self) {
        if self.alive <= self.config.max_clusters {
            return;
        }
        let target = self.config.max_clusters * 9 / 10;
        let mut order: Vec<u32> = self.index.values().copied().collect();
        order.sort_by_key(|&i| self.clusters.get(i as usize).map(|c| (c.count, c.last, i)));
        for &i in order.iter().take(self.alive - target) {
            if let Some(c) = self.clusters.get_mut(i as usize) {
                self.index.remove(c.key.as_str());
                c.key = String::new();
                c.template = EVICTED_SLOT;
                self.evicted.count += c.count;
                self.stats.evicted += 1;
                self.alive -= 1;
            }
        }
    }
}

/// Whether a message token fits a template token: equal, or matching around the template
/// token's one `<*>` (`node-<*>` fits `node-7`, `<*>,` fits `Package_x,`). A protected token
/// fits no variable, as it never becomes one in consolidation.
fn token_fits(template: &str, token: &str) -> bool {
    if template == token {
        return true;
    }
    if is_protected(token) {
        return false;
    }
    if template == WILDCARD {
        return true;
    }
    match template.split_once(WILDCARD) {
        Some((pre, post)) if !post.contains(WILDCARD) => {
            token.len() >= pre.len() + post.len() && token.starts_with(pre) && token.ends_with(post)
        }
        _ => false,
    }
}

/// Masks a message into `out`, cutting it at the configured limits; returns whether it cut.
fn mask_limited(config: &MinerConfig, message: &str, out: &mut String) -> bool {
    let mut cut = false;
    let msg = if message.len() > config.max_message_bytes {
        cut = true;
        message.get(..message.floor_char_boundary(config.max_message_bytes)).unwrap_or_default()
    } else {
        message
    };
    let n = mask_message(msg, out);
    if n > config.max_tokens {
        cut = true;
        if let Some((pos, _)) = out.match_indices(' ').nth(config.max_tokens.saturating_sub(1)) {
            out.truncate(pos);
        }
    }
    if cut {
        out.push_str(if out.is_empty() { WILDCARD } else { " <*>" });
    }
    cut
}

/// Splits clusters of `len` tokens into templates; pushes `(members, template text)`.
///
/// A set of clusters whose rows agree on at least half of their columns is one message shape:
/// a column that varies in it is a variable, unless it takes only a few values
/// (`max_categories`), which tell templates apart and split the set. A protected token in a
/// column parts its rows from the others, which are then judged by the same rule. A set that
/// agrees on less is several shapes: it is split on its first column when that varies, else on
/// the column with the fewest values. A column found variable stays variable in the parts.
fn partition(
    clusters: &[Cluster],
    ids: Vec<u32>,
    len: usize,
    max_categories: usize,
    out: &mut Vec<(Vec<u32>, String)>,
) {
    let tokens = |i: u32| clusters.get(i as usize).map(|c| c.key.split(' ').collect::<Vec<&str>>()).unwrap_or_default();
    let mut stack = vec![(ids, vec![false; len])];
    while let Some((mut ids, mut variable)) = stack.pop() {
        // one cluster is its own template (its key is already masked text)
        if let [only] = ids.as_slice()
            && !variable.iter().any(|&v| v)
        {
            let text = clusters
                .get(*only as usize)
                .map(|c| c.key.split(' ').map(merge_adjacent).collect::<Vec<_>>().join(" "));
            out.push((ids, text.unwrap_or_default()));
            continue;
        }
        ids.sort_by(|a, b| {
            let ka = clusters.get(*a as usize).map(|c| c.key.as_str());
            let kb = clusters.get(*b as usize).map(|c| c.key.as_str());
            ka.cmp(&kb)
        });
        let rows: Vec<Vec<&str>> = ids.iter().map(|&i| tokens(i)).collect();
        let mut distinct = vec![1usize; len];
        let mut flags = vec![(false, false); len];
        for col in 0..len {
            let mut values: Vec<&str> = rows.iter().filter_map(|r| r.get(col).copied()).collect();
            values.sort_unstable();
            values.dedup();
            if let Some(d) = distinct.get_mut(col) {
                *d = values.len();
            }
            if let Some(f) = flags.get_mut(col) {
                // a column with `<*>` and one word is a variable whose value was not masked
                // (punctuation shared by every value aside: `<*>:` and `name:` are alike)
                let shape = wildcard_keeping_punctuation(values.iter().copied());
                let (h, t) = shape.split_once(WILDCARD).unwrap_or_default();
                let bare = |v: &str| v.strip_prefix(h).and_then(|v| v.strip_suffix(t)).map(str::to_string);
                let wild = values.iter().any(|v| bare(v).is_some_and(|b| b == WILDCARD))
                    && values.iter().all(|v| {
                        bare(v).is_some_and(|b| {
                            b == WILDCARD || b.bytes().any(|c| c.is_ascii_alphabetic()) && !b.contains(WILDCARD)
                        })
                    });
                *f = (wild, values.iter().any(|v| is_protected(v)));
            }
        }
        let constant = distinct.iter().zip(&variable).filter(|(k, v)| **k == 1 && !**v).count();
        let one_shape = constant * 2 >= len;
        let mut split: Option<(usize, usize)> = None;
        for col in 0..len {
            let (k, (wild, protected)) =
                (distinct.get(col).copied().unwrap_or(1), flags.get(col).copied().unwrap_or_default());
            if k <= 1 || variable.get(col).copied().unwrap_or(false) && !protected {
                continue;
            }
            let categorical = if one_shape { protected || !wild && k <= max_categories } else { true };
            if categorical {
                let rank = if protected || !one_shape && col == 0 { 0 } else { k };
                if split.is_none_or(|(_, r)| rank < r) {
                    split = Some((col, rank));
                }
            } else if let Some(v) = variable.get_mut(col) {
                *v = true;
            }
        }
        if let Some((col, _)) = split {
            // a column split for its protected tokens parts each protected value from the rest;
            // the rest are categories as any column's values are: split when few, else kept
            // together and partitioned again, where the column is judged on its own values
            // (`user err logged in` is no reason to part `user bob` from `user ann`)
            let protected = flags.get(col).is_some_and(|&(_, protected)| protected);
            let others = rows.iter().filter_map(|r| r.get(col)).filter(|v| !is_protected(v));
            let keep_others = protected && {
                let mut others: Vec<&str> = others.copied().collect();
                others.sort_unstable();
                others.dedup();
                others.len() > max_categories
            };
            let mut groups: BTreeMap<Option<&str>, Vec<u32>> = BTreeMap::new();
            for (r, &i) in rows.iter().zip(&ids) {
                let v = r.get(col).copied().unwrap_or_default();
                let key = if keep_others && !is_protected(v) { None } else { Some(v) };
                groups.entry(key).or_default().push(i);
            }
            for (_, g) in groups.into_iter().rev() {
                stack.push((g, variable.clone()));
            }
            continue;
        }
        let first = rows.first().cloned().unwrap_or_default();
        let text: Vec<String> = first
            .iter()
            .enumerate()
            .map(|(col, t)| {
                let varies = variable.get(col).copied().unwrap_or(false)
                    || rows.iter().any(|r| r.get(col).is_some_and(|v| v != t));
                if varies {
                    wildcard_keeping_punctuation(rows.iter().filter_map(|r| r.get(col).copied()))
                } else {
                    merge_adjacent(t)
                }
            })
            .collect();
        out.push((ids, text.join(" ")));
    }
}

/// The constant words of a template: its tokens without variables, and without the unit that
/// follows a variable (`<*> bytes`, `<*> sec`).
fn signature(text: &str) -> Vec<&str> {
    const UNITS: [&str; 16] = [
        "bytes", "byte", "B", "KB", "MB", "GB", "sec", "secs", "seconds", "s", "ms", "min", "mins", "minutes", "hours",
        "h",
    ];
    let mut out = Vec::new();
    let mut prev_var = false;
    for t in text.split(' ') {
        let var = t.contains(WILDCARD);
        let unit = prev_var && UNITS.contains(&t.trim_end_matches([',', '.', ')', ';']));
        if !var && !unit {
            out.push(t);
        }
        prev_var = var;
    }
    out
}

/// Merges templates of different lengths that share their constant words (a list of variable
/// length, an optional annotation such as `(0.4 KB)`): between consecutive constant words,
/// what differs among them becomes one `<*>`.
fn merge_by_signature(parts: Vec<(Vec<u32>, String)>) -> Vec<(Vec<u32>, String)> {
    let mut by_key: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, (_, text)) in parts.iter().enumerate() {
        let sig = signature(text);
        // a template needs two constant words to be recognised by them alone
        let key = if sig.len() >= 2 { sig.join("\u{1f}") } else { format!("\u{0}{text}") };
        by_key.entry(key).or_default().push(i);
    }
    // groups in order of their first member, so the result does not depend on hashing
    let mut groups: Vec<Vec<usize>> = by_key.into_values().collect();
    groups.sort_by_key(|idx| idx.first().copied());
    let mut out = Vec::with_capacity(groups.len());
    let mut parts: Vec<Option<(Vec<u32>, String)>> = parts.into_iter().map(Some).collect();
    for idx in groups {
        let taken: Vec<(Vec<u32>, String)> =
            idx.iter().filter_map(|&i| parts.get_mut(i).and_then(Option::take)).collect();
        if taken.len() == 1 {
            out.extend(taken);
            continue;
        }
        // every member shares the signature; one of fewer than two words did not group
        let sig: Vec<String> = taken
            .first()
            .map(|(_, t)| signature(t))
            .filter(|s| s.len() >= 2)
            .unwrap_or_default()
            .into_iter()
            .map(str::to_string)
            .collect();
        // gaps between consecutive signature words, per template
        let gaps: Vec<Vec<String>> = taken
            .iter()
            .map(|(_, text)| {
                let mut g = vec![String::new()];
                let mut k = 0;
                for t in text.split(' ') {
                    // signature words hold no variable, so equality is the whole test
                    let is_sig = sig.get(k).is_some_and(|s| s == t);
                    if is_sig {
                        k += 1;
                        g.push(String::new());
                    } else if let Some(last) = g.last_mut() {
                        if !last.is_empty() {
                            last.push(' ');
                        }
                        last.push_str(t);
                    }
                }
                g
            })
            .collect();
        let mut words = Vec::new();
        for gi in 0..=sig.len() {
            let first = gaps.first().and_then(|g| g.get(gi)).cloned().unwrap_or_default();
            let same = gaps.iter().all(|g| g.get(gi).is_some_and(|x| *x == first));
            if same {
                if !first.is_empty() {
                    words.push(first);
                }
            } else {
                words.push(WILDCARD.to_string());
            }
            if let Some(w) = sig.get(gi) {
                words.push(w.clone());
            }
        }
        let members = taken.into_iter().flat_map(|(m, _)| m).collect();
        out.push((members, words.join(" ")));
    }
    out
}

/// Merges near-duplicate templates of equal length (see [`MinerConfig::near_duplicate`]).
///
/// The group is then judged as [`partition`] judges a column: a column that differs must look
/// like a variable (more than `max_categories` values, or a `<*>` among words), or the group is
/// left apart.
fn merge_near_duplicates(
    parts: Vec<(Vec<u32>, String)>,
    threshold: f64,
    max_categories: usize,
) -> Vec<(Vec<u32>, String)> {
    if threshold > 1.0 || parts.len() < 2 {
        return parts;
    }
    let texts: Vec<&str> = parts.iter().map(|(_, t)| t.as_str()).collect();
    let groups = super::lsh::near_duplicates(&texts, threshold);
    if groups.is_empty() {
        return parts;
    }
    let mut parts: Vec<Option<(Vec<u32>, String)>> = parts.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for group in groups {
        // within a group, templates of the same length merge column by column
        let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for &i in &group {
            let n = parts.get(i).and_then(|p| p.as_ref()).map_or(0, |(_, t)| t.split(' ').count());
            by_len.entry(n).or_default().push(i);
        }
        for (_, idx) in by_len {
            let rows: Vec<Vec<String>> = idx
                .iter()
                .filter_map(|&i| {
                    parts.get(i).and_then(|p| p.as_ref()).map(|(_, t)| t.split(' ').map(str::to_string).collect())
                })
                .collect();
            let len = rows.first().map_or(0, Vec::len);
            let constant_differs = (0..len).any(|c| {
                let mut values: Vec<&str> = rows.iter().filter_map(|r| r.get(c).map(String::as_str)).collect();
                values.sort_unstable();
                values.dedup();
                if values.len() < 2 {
                    return false;
                }
                let protected = values.iter().any(|v| is_protected(v));
                let variable = values.len() > max_categories
                    || values.contains(&WILDCARD)
                        && values.iter().all(|v| *v == WILDCARD || v.bytes().any(|b| b.is_ascii_alphabetic()));
                protected || !variable
            });
            if idx.len() < 2 || constant_differs {
                continue;
            }
            let text: Vec<String> = (0..len)
                .map(|c| {
                    let first = rows.first().and_then(|r| r.get(c)).cloned().unwrap_or_default();
                    if rows.iter().all(|r| r.get(c) == Some(&first)) {
                        first
                    } else {
                        wildcard_keeping_punctuation(rows.iter().filter_map(|r| r.get(c).map(String::as_str)))
                    }
                })
                .collect();
            let members: Vec<u32> =
                idx.iter().filter_map(|&i| parts.get_mut(i).and_then(Option::take)).flat_map(|(m, _)| m).collect();
            out.push((members, text.join(" ")));
        }
    }
    out.extend(parts.into_iter().flatten());
    out
}

/// `<*>` with the prefix and suffix that every value of the column shares, cut at a delimiter,
/// so `node-D4`, `node-D7` give `node-<*>` and a variable followed by a comma keeps it.
fn wildcard_keeping_punctuation<'a>(mut values: impl Iterator<Item = &'a str>) -> String {
    let Some(first) = values.next() else { return WILDCARD.to_string() };
    let (mut head, mut tail) = (first.len(), first.len());
    for v in values {
        head = first.bytes().zip(v.bytes()).take(head).take_while(|(a, b)| a == b).count();
        tail = first.bytes().rev().zip(v.bytes().rev()).take(tail).take_while(|(a, b)| a == b).count();
    }
    let fb = first.as_bytes();
    let delim = |c: &u8| !c.is_ascii_alphanumeric() && *c != b'_' && *c != b'*' && *c != b'<' && *c != b'>';
    // the shared prefix ends just after a delimiter, the shared suffix starts at one
    let head = fb.get(..head).and_then(|h| h.iter().rposition(delim)).map_or(0, |p| p + 1);
    let tail_start = fb.len() - tail.min(fb.len().saturating_sub(head));
    let tail_start = fb.get(tail_start..).and_then(|t| t.iter().position(delim)).map_or(fb.len(), |p| tail_start + p);
    let (h, t) = (first.get(..head).unwrap_or_default(), first.get(tail_start..).unwrap_or_default());
    if h.contains(WILDCARD) || t.contains(WILDCARD) {
        return WILDCARD.to_string();
    }
    format!("{h}{WILDCARD}{t}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine(lines: &[&str]) -> (TemplateMiner, Vec<ClusterId>) {
        let mut m = TemplateMiner::default();
        let ids = lines.iter().map(|l| m.add(l)).collect();
        m.finish();
        (m, ids)
    }

    fn text(m: &TemplateMiner, c: ClusterId) -> String {
        m.template_of(c).map(|t| t.text.clone()).unwrap_or_default()
    }

    #[test]
    fn groups_and_masks() {
        let users = ["alice", "bob", "carol", "dave", "erin", "frank"];
        let mut lines = Vec::new();
        for (i, u) in users.iter().enumerate() {
            lines.push(format!("Accepted password for {u} from 10.0.0.{i} port 22{i}"));
            lines.push(format!("VM {} id {i}", if i % 2 == 0 { "Started" } else { "Paused" }));
            lines.push(format!("{} request took {i}ms", if i % 2 == 0 { "INFO" } else { "ERROR" }));
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let (m, ids) = mine(&refs);
        assert_eq!(text(&m, ids[0]), "Accepted password for <*> from <*> port <*>");
        assert_eq!(text(&m, ids[1]), "VM Started id <*>");
        assert_eq!(text(&m, ids[4]), "VM Paused id <*>");
        assert_eq!(text(&m, ids[2]), "INFO request took <*>");
        assert_eq!(text(&m, ids[5]), "ERROR request took <*>");
        assert_eq!(m.templates().len(), 5);
    }

    #[test]
    fn ids_are_content_hashes() {
        let (m, ids) = mine(&["disk full on node-3", "disk full on node-4"]);
        let t = m.template_of(ids[0]).unwrap();
        assert_eq!(t.text, "disk full on node-<*>");
        assert_eq!(t.id, TemplateId::of("disk full on node-<*>"));
        assert_eq!(t.count, 2);
    }

    #[test]
    fn merging_shards_equals_one_pass() {
        let lines: Vec<String> = (0..400)
            .map(|i| {
                format!(
                    "user u{} did {} in {}ms",
                    ["ann", "ben", "cid", "dot", "eve"][i % 5],
                    ["read", "write"][i % 2],
                    i
                )
            })
            .collect();
        let mut whole = TemplateMiner::default();
        for l in &lines {
            whole.add(l);
        }
        whole.finish();
        let (mut a, mut b) = (TemplateMiner::default(), TemplateMiner::default());
        for (i, l) in lines.iter().enumerate() {
            if i % 3 == 0 {
                a.add(l)
            } else {
                b.add(l)
            };
        }
        a.merge(&b);
        assert_eq!(a.templates(), whole.templates());
    }

    #[test]
    fn state_round_trips() {
        let (m, _) = mine(&["a 1", "a 2", "b x"]);
        let json = serde_json::to_string(&m).unwrap();
        let mut back: TemplateMiner = serde_json::from_str(&json).unwrap();
        let c = back.add("a 3");
        assert_eq!(back.template_of(c).unwrap().text, "a <*>");
        assert_eq!(back.stats().lines, 4);
    }

    #[test]
    fn cap_evicts_and_counts() {
        let mut m = TemplateMiner::new(MinerConfig::default().with_max_clusters(100));
        for i in 0..5000 {
            // one-word messages, each its own constant template (nothing to absorb them)
            let w: String = format!("{i:05}").bytes().map(|d| char::from(b'a' + (d - b'0'))).collect();
            m.add(&w);
        }
        m.finish();
        assert!(m.stats().evicted > 0);
        assert!(m.alive <= 100);
    }
}
