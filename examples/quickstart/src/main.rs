//! Quickstart: load an incident bundle, verify it, decode it and walk what it holds.
//!
//! ```text
//! cargo run -p faultlens-example-quickstart -- examples/bundles/bad-deploy
//! ```
//! Without an argument it simulates an incident into a temporary directory first.

use std::path::PathBuf;

use faultlens::core::{Bundle, Severity};
use faultlens::sim::{Scenario, SimConfig, generate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arg = std::env::args().nth(1).map(PathBuf::from);
    let scratch = std::env::temp_dir().join(format!("faultlens-quickstart-{}", std::process::id()));
    let dir = match arg {
        Some(d) => d,
        None => {
            generate(&SimConfig::default().with_scenario(Scenario::DependencyOutage).with_seed(7))?.write(&scratch)?;
            scratch.clone()
        }
    };

    // 1. Load: validates the manifest, refuses paths outside the bundle, checks sha256 values.
    let bundle = Bundle::load(&dir)?;
    let issues = bundle.verify()?;
    println!(
        "{}: {} sources, {} integrity issues",
        bundle.incident().id,
        bundle.manifest().sources.len(),
        issues.len()
    );

    // 2. Decode every source into the typed model.
    let data = bundle.decode()?;
    for s in &data.sources {
        println!(
            "  {:<28} {:>7} records, {} skipped, sha256 {}",
            s.path,
            s.report.records,
            s.report.skipped,
            &s.sha256.to_string()[..12]
        );
    }

    // 3. Use it: the changes in the incident window, error logs per service, blast radius.
    let w = data.incident.window;
    for c in data.changes.iter().filter(|c| w.contains(c.at)) {
        println!("change {} {} {} at {}", c.id, c.kind.as_str(), c.service, c.at);
    }
    let errors = data.logs.iter().filter(|l| l.level >= Some(Severity::Error)).count();
    println!("{errors} error log lines of {}", data.logs.len());
    if let Some(alerting) = data.incident.services.first() {
        let deps: Vec<_> = data.topology.dependencies(alerting, 3).into_iter().map(|r| r.service).collect();
        println!("{alerting} depends on {}", deps.join(", "));
    }
    if dir == scratch {
        std::fs::remove_dir_all(&scratch)?;
    }
    Ok(())
}
