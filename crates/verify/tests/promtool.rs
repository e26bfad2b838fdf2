//! Generated SLO rules checked by Prometheus' own tool: `promtool check rules` accepts them and
//! `promtool test rules` fires the page and ticket alerts on an outage and nothing on a healthy
//! service. `make test` installs promtool (Debian's prometheus package); without it these tests
//! say so and stop, unless `FAULTLENS_REQUIRE_TOOLS` is set, when they fail.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use std::path::Path;
use std::process::Command;

use faultlens_verify::slo::{EventsSli, Slo, prometheus_rules};

fn promtool() -> Option<&'static str> {
    if Command::new("promtool").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some("promtool");
    }
    assert!(
        std::env::var_os("FAULTLENS_REQUIRE_TOOLS").is_none(),
        "promtool is required (FAULTLENS_REQUIRE_TOOLS is set)"
    );
    eprintln!("SKIPPED: promtool not found; install Debian's prometheus package (make test does)");
    None
}

fn slo() -> Slo {
    let sli = EventsSli {
        error_query: r#"sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))"#.into(),
        total_query: r#"sum(rate(http_requests_total{job="checkout"}[{{.window}}]))"#.into(),
    };
    let mut slo = Slo::new("checkout", "requests-availability", 0.999, sli);
    slo.description = "99.9% of checkout requests succeed".into();
    slo
}

fn run(tool: &str, args: &[&str], dir: &Path) -> String {
    let o = Command::new(tool).args(args).current_dir(dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

const TESTS: &str = r#"rule_files:
  - rules.yaml
evaluation_interval: 1m
tests:
  # an outage: 10% of requests fail, a burn rate of 100
  - interval: 1m
    input_series:
      - series: 'http_requests_total{job="checkout",code="500"}'
        values: '0+10x180'
      - series: 'http_requests_total{job="checkout",code="200"}'
        values: '0+90x180'
    alert_rule_test:
      - eval_time: 60m
        alertname: CheckoutRequestsAvailabilityPage
        exp_alerts:
          - exp_labels:
              sloth_id: checkout-requests-availability
              sloth_service: checkout
              sloth_slo: requests-availability
              sloth_severity: page
            exp_annotations:
              summary: checkout SLO requests-availability error budget burn rate is too fast
              title: (page) checkout SLO requests-availability error budget burn rate is too fast
      - eval_time: 60m
        alertname: CheckoutRequestsAvailabilityTicket
        exp_alerts:
          - exp_labels:
              sloth_id: checkout-requests-availability
              sloth_service: checkout
              sloth_slo: requests-availability
              sloth_severity: ticket
            exp_annotations:
              summary: checkout SLO requests-availability error budget burn rate is too fast
              title: (ticket) checkout SLO requests-availability error budget burn rate is too fast
    promql_expr_test:
      - expr: slo:objective:ratio
        eval_time: 10m
        exp_samples:
          - labels: 'slo:objective:ratio{sloth_id="checkout-requests-availability",sloth_service="checkout",sloth_slo="requests-availability"}'
            value: 0.999
      - expr: slo:time_period:days
        eval_time: 10m
        exp_samples:
          - labels: 'slo:time_period:days{sloth_id="checkout-requests-availability",sloth_service="checkout",sloth_slo="requests-availability"}'
            value: 30
  # healthy: 0.05% fail, half the budget's pace: nothing fires
  - interval: 1m
    input_series:
      - series: 'http_requests_total{job="checkout",code="500"}'
        values: '0+1x180'
      - series: 'http_requests_total{job="checkout",code="200"}'
        values: '0+1999x180'
    alert_rule_test:
      - eval_time: 90m
        alertname: CheckoutRequestsAvailabilityPage
        exp_alerts: []
      - eval_time: 90m
        alertname: CheckoutRequestsAvailabilityTicket
        exp_alerts: []
"#;

#[test]
fn promtool_accepts_the_rules_and_their_alerts_fire_as_expected() {
    let Some(tool) = promtool() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), prometheus_rules(&[slo()]).unwrap()).unwrap();
    std::fs::write(dir.path().join("tests.yaml"), TESTS).unwrap();
    let out = run(tool, &["check", "rules", "rules.yaml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
    let out = run(tool, &["test", "rules", "tests.yaml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn hostile_names_and_queries_stay_inside_their_quotes() {
    let Some(tool) = promtool() else { return };
    assert!(prometheus_rules(&[slo(), slo()]).unwrap_err().to_string().contains("repeats"));
    let mut s = slo();
    s.name = "latency.p99_under-300ms".into();
    s.description = "quote \" newline \n backslash \\".into();
    s.sli.error_query = "sum(rate(http_requests_total{job=\"a\\\"b\",code=~\"5..\"}[{{.window}}]))".into();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yaml"), prometheus_rules(&[s, slo()]).unwrap()).unwrap();
    let out = run(tool, &["check", "rules", "rules.yaml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
}
