//! A layered service graph: entry points, APIs, back-ends and datastores.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;

const MIDDLE: [&str; 36] = [
    "checkout",
    "cart",
    "catalog",
    "payments",
    "shipping",
    "users",
    "orders",
    "search",
    "recommendations",
    "inventory",
    "pricing",
    "reviews",
    "notifications",
    "auth",
    "ads",
    "currency",
    "email",
    "fraud",
    "loyalty",
    "wishlist",
    "media",
    "geo",
    "tax",
    "invoices",
    "refunds",
    "coupons",
    "ratings",
    "sessions",
    "profile",
    "analytics",
    "billing",
    "ledger",
    "returns",
    "support",
    "feeds",
    "quotes",
];
const LEAVES: [&str; 12] = [
    "orders-db",
    "users-db",
    "catalog-db",
    "redis-cache",
    "kafka",
    "payments-db",
    "inventory-db",
    "search-index",
    "session-store",
    "object-store",
    "ledger-db",
    "rabbitmq",
];
const ENTRIES: [&str; 2] = ["frontend", "mobile-bff"];

/// Tier of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    Entry,
    Api,
    Backend,
    Store,
}

#[derive(Debug, Clone)]
pub(crate) struct Graph {
    pub(crate) names: Vec<String>,
    pub(crate) tiers: Vec<Tier>,
    pub(crate) callees: Vec<Vec<usize>>,
    pub(crate) callers: Vec<Vec<usize>>,
    /// Indices in an order where every service comes after all its callees.
    pub(crate) bottom_up: Vec<usize>,
}

fn pick_names(pool: &[&str], n: usize, rng: &mut ChaCha8Rng) -> Vec<String> {
    let mut v: Vec<&str> = pool.to_vec();
    v.shuffle(rng);
    (0..n)
        .map(|i| {
            let base = v.get(i % v.len()).copied().unwrap_or("svc");
            if i < v.len() { base.to_string() } else { format!("{base}-{}", i / v.len() + 1) }
        })
        .collect()
}

#[allow(clippy::indexing_slicing)] // indices are drawn from the ranges of the vectors they index
pub(crate) fn build(n: usize, rng: &mut ChaCha8Rng) -> Graph {
    let n_entry = if n >= 12 { 2 } else { 1 };
    let n_store = (n / 4).clamp(2, LEAVES.len());
    let n_mid = n - n_entry - n_store;
    let n_api = (n_mid * 2 / 5).max(1);
    let n_back = n_mid - n_api;
    let mut names: Vec<String> = ENTRIES.iter().take(n_entry).map(|s| s.to_string()).collect();
    let mut tiers = vec![Tier::Entry; n_entry];
    names.extend(pick_names(&MIDDLE, n_mid, rng));
    tiers.extend(std::iter::repeat_n(Tier::Api, n_api));
    tiers.extend(std::iter::repeat_n(Tier::Backend, n_back));
    names.extend(pick_names(&LEAVES, n_store, rng));
    tiers.extend(std::iter::repeat_n(Tier::Store, n_store));

    let idx = |t: Tier| -> Vec<usize> { (0..n).filter(|&i| tiers[i] == t).collect() };
    let (entries, apis, backs, stores) = (idx(Tier::Entry), idx(Tier::Api), idx(Tier::Backend), idx(Tier::Store));
    let mut callees = vec![Vec::<usize>::new(); n];
    let add = |callees: &mut Vec<Vec<usize>>, a: usize, b: usize| {
        if a != b && !callees[a].contains(&b) {
            callees[a].push(b);
        }
    };
    for &e in &entries {
        let k = rng.random_range(2..=4).min(apis.len());
        for &a in apis.choose_multiple(rng, k) {
            add(&mut callees, e, a);
        }
    }
    let below_api: Vec<usize> = backs.iter().chain(&stores).copied().collect();
    for &a in &apis {
        let k = rng.random_range(1..=3).min(below_api.len());
        for &b in below_api.choose_multiple(rng, k) {
            add(&mut callees, a, b);
        }
    }
    for &b in &backs {
        let k = rng.random_range(1..=2).min(stores.len());
        for &s in stores.choose_multiple(rng, k) {
            add(&mut callees, b, s);
        }
    }
    // every non-entry service gets at least one caller from a tier above it
    for (i, &tier) in tiers.iter().enumerate() {
        let has_caller = callees.iter().any(|c| c.contains(&i));
        if tier != Tier::Entry && !has_caller {
            let above: &Vec<usize> = match tier {
                Tier::Api => &entries,
                Tier::Backend => &apis,
                _ => {
                    if backs.is_empty() {
                        &apis
                    } else {
                        &backs
                    }
                }
            };
            if let Some(&c) = above.choose(rng) {
                add(&mut callees, c, i);
            }
        }
    }
    for c in &mut callees {
        c.sort_unstable();
    }
    let mut callers = vec![Vec::new(); n];
    for (a, cs) in callees.iter().enumerate() {
        for &b in cs {
            callers[b].push(a);
        }
    }
    // tiers only call downwards, so reverse tier order is bottom-up
    let mut bottom_up: Vec<usize> = (0..n).collect();
    bottom_up.sort_by_key(|&i| std::cmp::Reverse(tiers[i] as u8));
    Graph { names, tiers, callees, callers, bottom_up }
}

impl Graph {
    /// All services that (transitively) call `s`.
    pub(crate) fn upstream_of(&self, s: usize) -> Vec<usize> {
        self.reachable(s, &self.callers)
    }

    /// All services that `s` (transitively) calls.
    pub(crate) fn downstream_of(&self, s: usize) -> Vec<usize> {
        self.reachable(s, &self.callees)
    }

    /// Everything reachable from `s` along `edges`, sorted, without `s` unless on a cycle.
    fn reachable(&self, s: usize, edges: &[Vec<usize>]) -> Vec<usize> {
        let mut seen = vec![false; self.names.len()];
        let mut stack = vec![s];
        let mut out = Vec::new();
        while let Some(x) = stack.pop() {
            for &c in edges.get(x).into_iter().flatten() {
                if let Some(v) = seen.get_mut(c)
                    && !*v
                {
                    *v = true;
                    out.push(c);
                    stack.push(c);
                }
            }
        }
        out.sort_unstable();
        out
    }
}
