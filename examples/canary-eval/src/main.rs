//! Judges the simulator's labelled canary corpus with faultlens' default judge and with
//! Kayenta's rule alone, and prints, per traffic level and fault, how often each passed,
//! blocked (marginal or fail) or asked for more data.
//!
//! - **false pass**: a regression judged Pass (the promise: under 1%);
//! - **false block**: a healthy canary judged Marginal or Fail (the promise: under 5%);
//! - Insufficient is neither: the canary is held until there is data (fail closed).
//!
//! usage: `faultlens-example-canary-eval [CASES_PER_CELL] [SEED]` (default 200 and 1).

use std::collections::BTreeMap;
use std::process::ExitCode;

use faultlens::sim::canary::{CanaryCase, CanaryFault, Traffic, canary_config, canary_corpus};
use faultlens::verify::canary::{CanaryConfig, CanaryVerdict, JudgeConfig, MetricSamples, judge};

#[derive(Default, Clone, Copy)]
struct Tally {
    pass: usize,
    block: usize,
    insufficient: usize,
}

impl Tally {
    fn n(self) -> usize {
        self.pass + self.block + self.insufficient
    }

    fn pct(k: usize, n: usize) -> String {
        if n == 0 { "-".into() } else { format!("{:.1}%", 100.0 * k as f64 / n as f64) }
    }
}

fn samples(c: &CanaryCase) -> BTreeMap<String, MetricSamples> {
    c.series
        .iter()
        .map(|s| (s.name.clone(), MetricSamples { control: s.baseline.clone(), experiment: s.canary.clone() }))
        .collect()
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let per_cell: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let seed: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let config: CanaryConfig = match serde_json::from_value(canary_config()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: the corpus config does not parse: {e}");
            return ExitCode::FAILURE;
        }
    };
    let corpus = canary_corpus(seed, per_cell);
    let judges = [("faultlens", JudgeConfig::default()), ("kayenta", JudgeConfig::kayenta())];
    let mut tallies: BTreeMap<(&str, Traffic, CanaryFault), Tally> = BTreeMap::new();
    for c in &corpus {
        let s = samples(c);
        for (name, settings) in &judges {
            let verdict = match judge(&config, &s, settings) {
                Ok(r) => r.verdict,
                Err(e) => {
                    eprintln!("error: {}: {e}", c.id);
                    return ExitCode::FAILURE;
                }
            };
            let t = tallies.entry((name, c.traffic, c.fault)).or_default();
            match verdict {
                CanaryVerdict::Pass => t.pass += 1,
                CanaryVerdict::Marginal | CanaryVerdict::Fail => t.block += 1,
                CanaryVerdict::Insufficient => t.insufficient += 1,
            }
        }
    }
    println!("canary corpus: seed {seed}, {per_cell} cases per traffic level and fault ({} cases)", corpus.len());
    println!(
        "{:<10} {:<8} {:<11} {:>6} {:>8} {:>8} {:>13}",
        "judge", "traffic", "fault", "n", "pass", "block", "insufficient"
    );
    for ((name, traffic, fault), t) in &tallies {
        println!(
            "{name:<10} {:<8} {:<11} {:>6} {:>8} {:>8} {:>13}",
            traffic.as_str(),
            fault.as_str(),
            t.n(),
            Tally::pct(t.pass, t.n()),
            Tally::pct(t.block, t.n()),
            Tally::pct(t.insufficient, t.n())
        );
    }
    println!();
    println!(
        "{:<10} {:<8} {:>11} {:>12} {:>20} {:>22}",
        "judge", "traffic", "false pass", "false block", "regressions held", "healthy insufficient"
    );
    for (name, _) in &judges {
        for traffic in Traffic::ALL {
            let sum = |healthy: bool| {
                tallies
                    .iter()
                    .filter(|((j, tr, f), _)| j == name && *tr == traffic && (*f == CanaryFault::Healthy) == healthy)
                    .fold(Tally::default(), |a, (_, t)| Tally {
                        pass: a.pass + t.pass,
                        block: a.block + t.block,
                        insufficient: a.insufficient + t.insufficient,
                    })
            };
            let (reg, ok) = (sum(false), sum(true));
            println!(
                "{name:<10} {:<8} {:>11} {:>12} {:>20} {:>22}",
                traffic.as_str(),
                Tally::pct(reg.pass, reg.n()),
                Tally::pct(ok.block, ok.n()),
                Tally::pct(reg.insufficient, reg.n()),
                Tally::pct(ok.insufficient, ok.n())
            );
        }
    }
    ExitCode::SUCCESS
}
