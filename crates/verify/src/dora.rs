//! DORA's four keys from deployments and incidents: deployment frequency, lead time for
//! changes (median commit-to-deploy), change failure rate (deployments linked to an incident,
//! or marked failed, over all deployments) and time to restore (median incident start to
//! resolution), with the performance tiers of a published table.
//!
//! Tier tables are data, versioned by the year of the report they come from
//! ([`TierTable::builtin`]: the 2021, 2022, 2023 and 2024 reports, from
//! `crates/verify/data/dora-tiers.json`); a team is placed, per metric, in the best tier whose
//! bound it meets. Other tables load with [`TierTable::from_json`].
//!
//! A metric that cannot be computed (no commit times, no deployments, no resolved incidents)
//! is `None` with a reason, never zero.

use std::collections::BTreeSet;

use faultlens_core::{TimeRange, Timestamp};
use serde::{Deserialize, Serialize};

use crate::samples::{InputError, read_rows};

pub(crate) const HOUR_MS: f64 = 3_600_000.0;
pub(crate) const DAY_MS: f64 = 24.0 * HOUR_MS;

/// One deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Id, as incidents refer to it.
    pub id: String,
    /// The service deployed.
    #[serde(default)]
    pub service: String,
    /// When it reached production.
    pub deployed_at: Timestamp,
    /// When its (oldest) change was committed, for lead time.
    #[serde(default)]
    pub commit_at: Option<Timestamp>,
    /// Marked failed at the source (rolled back, hotfixed), whether or not an incident names it.
    #[serde(default)]
    pub failed: bool,
}

/// One production incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentRecord {
    /// Id.
    pub id: String,
    /// When service degraded.
    pub started_at: Timestamp,
    /// When it was restored (`None`: still open).
    #[serde(default)]
    pub resolved_at: Option<Timestamp>,
    /// The deployment that caused it, when known.
    #[serde(default)]
    pub change_id: Option<String>,
}

/// A performance tier's bounds. A metric meets a bound when it is at least the minimum
/// frequency, or at most the maximum duration or rate; a missing maximum is no bound.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    /// `elite`, `high`, `medium`, `low`.
    pub name: String,
    /// Fewest deployments per day.
    pub min_deploys_per_day: f64,
    /// Longest median lead time, in hours (`None`: unbounded).
    pub max_lead_time_hours: Option<f64>,
    /// Highest change failure rate.
    pub max_change_failure_rate: f64,
    /// Longest median time to restore, in hours (`None`: unbounded).
    pub max_restore_hours: Option<f64>,
    /// The report's own wording of each range, for display.
    #[serde(default)]
    pub published: Option<PublishedRanges>,
}

/// A tier's ranges as the report words them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedRanges {
    /// Deployment frequency, e.g. "between once per day and once per week".
    pub deployment_frequency: String,
    /// Lead time for changes.
    pub lead_time: String,
    /// Change failure rate.
    pub change_failure_rate: String,
    /// Time to restore (failed deployment recovery time from 2023).
    pub time_to_restore: String,
}

/// A versioned tier table, best tier first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierTable {
    /// The report's year.
    pub year: u16,
    /// The report.
    pub source: String,
    /// How the published ranges were turned into bounds.
    pub notes: String,
    /// Tiers, best first.
    pub tiers: Vec<Tier>,
}

/// The built-in tables, as data: `crates/verify/data/dora-tiers.json`.
const BUILTIN_TABLES: &str = include_str!("../data/dora-tiers.json");

impl TierTable {
    /// The built-in tables, one per report year from 2021 to 2024, oldest first.
    #[must_use]
    pub fn builtin() -> Vec<Self> {
        // The file is part of the crate and checked by the tests; it cannot fail to parse.
        Self::from_json("dora-tiers.json", BUILTIN_TABLES.as_bytes()).unwrap_or_default()
    }

    /// The built-in table of `year`.
    #[must_use]
    pub fn of_year(year: u16) -> Option<Self> {
        Self::builtin().into_iter().find(|t| t.year == year)
    }

    /// Reads tables from JSON: one table or an array of them, in the form of
    /// `crates/verify/data/dora-tiers.json`. Every table needs at least one tier, every bound
    /// must be a number that is not negative, and the last tier must take every team (no
    /// minimum frequency, no maximum duration, a failure-rate bound of 1) so that no metric is
    /// left without a tier.
    ///
    /// # Errors
    /// [`InputError`] naming the JSON line and field that is malformed or out of range.
    pub fn from_json(source: &str, bytes: &[u8]) -> Result<Vec<Self>, InputError> {
        let many = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let parsed = if many {
            serde_path_to_error::deserialize::<_, Vec<Self>>(de)
        } else {
            serde_path_to_error::deserialize::<_, Self>(de).map(|t| vec![t])
        };
        let tables = parsed.map_err(|e| {
            InputError::new(source, e.inner().line() as u64, &e.path().to_string(), e.inner().to_string())
        })?;
        for (i, table) in tables.iter().enumerate() {
            let field = |f: &str| format!("[{i}].{f}");
            let Some(last) = table.tiers.last() else {
                return Err(InputError::new(source, 0, &field("tiers"), "a table needs at least one tier"));
            };
            for (j, t) in table.tiers.iter().enumerate() {
                let bounds = [
                    ("min_deploys_per_day", Some(t.min_deploys_per_day)),
                    ("max_lead_time_hours", t.max_lead_time_hours),
                    ("max_change_failure_rate", Some(t.max_change_failure_rate)),
                    ("max_restore_hours", t.max_restore_hours),
                ];
                for (name, v) in bounds {
                    if v.is_some_and(|v| !v.is_finite() || v < 0.0) {
                        let f = field(&format!("tiers[{j}].{name}"));
                        return Err(InputError::new(source, 0, &f, "must be a finite number, not negative"));
                    }
                }
            }
            let catch_all = last.min_deploys_per_day == 0.0
                && last.max_lead_time_hours.is_none()
                && last.max_restore_hours.is_none()
                && last.max_change_failure_rate >= 1.0;
            if !catch_all {
                return Err(InputError::new(
                    source,
                    0,
                    &field(&format!("tiers[{}]", table.tiers.len() - 1)),
                    "the last tier must take every team: min_deploys_per_day 0, no maximum durations \
                     (null), max_change_failure_rate 1",
                ));
            }
        }
        Ok(tables)
    }
}

/// The four keys over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoraReport {
    /// The period measured.
    pub period: TimeRange,
    /// Deployments in it.
    pub deployments: usize,
    /// Deployments per day.
    pub deployment_frequency_per_day: Option<f64>,
    /// Share of days with at least one deployment.
    pub days_with_deploys: Option<f64>,
    /// Median commit-to-deploy time, in hours.
    pub lead_time_median_hours: Option<f64>,
    /// Deployments with a commit time.
    pub lead_time_samples: usize,
    /// Failed deployments over deployments.
    pub change_failure_rate: Option<f64>,
    /// Failed deployments.
    pub failed_deployments: usize,
    /// Median time to restore, in hours.
    pub time_to_restore_median_hours: Option<f64>,
    /// Incidents restored in the period.
    pub restored_incidents: usize,
    /// Incidents still open.
    pub open_incidents: usize,
    /// The tier of each metric, when a table was given.
    pub tiers: Option<TierPlacement>,
    /// What could not be computed, and why.
    pub notes: Vec<String>,
}

/// One of the four keys as a row, for tables: every rendering of a report (text, incident
/// report, DataFrame) lists the keys from [`DoraReport::key_rows`].
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    /// Machine name (`deployment_frequency`, `lead_time_median`, `change_failure_rate`,
    /// `time_to_restore_median`).
    pub id: &'static str,
    /// Words (`lead time (median)`).
    pub label: &'static str,
    /// The value (`None`: unknown).
    pub value: Option<f64>,
    /// Its unit: `per day`, `hours` or `ratio`.
    pub unit: &'static str,
    /// Its tier, when placed.
    pub tier: Option<String>,
}

impl KeyRow {
    /// The report's wording of this key's range for its tier in `table`.
    #[must_use]
    pub fn published<'a>(&self, table: &'a TierTable) -> Option<&'a str> {
        let tier = self.tier.as_deref()?;
        let p = table.tiers.iter().find(|t| t.name == tier)?.published.as_ref()?;
        Some(match self.id {
            "deployment_frequency" => &p.deployment_frequency,
            "lead_time_median" => &p.lead_time,
            "change_failure_rate" => &p.change_failure_rate,
            _ => &p.time_to_restore,
        })
    }
}

impl DoraReport {
    /// The four keys, in DORA's order.
    #[must_use]
    pub fn key_rows(&self) -> [KeyRow; 4] {
        let t = self.tiers.as_ref();
        let row = |id, label, value, unit, tier: Option<&Option<String>>| KeyRow {
            id,
            label,
            value,
            unit,
            tier: tier.cloned().flatten(),
        };
        [
            row(
                "deployment_frequency",
                "deployment frequency",
                self.deployment_frequency_per_day,
                "per day",
                t.map(|t| &t.deployment_frequency),
            ),
            row(
                "lead_time_median",
                "lead time (median)",
                self.lead_time_median_hours,
                "hours",
                t.map(|t| &t.lead_time),
            ),
            row(
                "change_failure_rate",
                "change failure rate",
                self.change_failure_rate,
                "ratio",
                t.map(|t| &t.change_failure_rate),
            ),
            row(
                "time_to_restore_median",
                "time to restore (median)",
                self.time_to_restore_median_hours,
                "hours",
                t.map(|t| &t.time_to_restore),
            ),
        ]
    }
}

/// Per-metric tiers from one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierPlacement {
    /// The table's year.
    pub table_year: u16,
    /// Deployment frequency's tier.
    pub deployment_frequency: Option<String>,
    /// Lead time's tier.
    pub lead_time: Option<String>,
    /// Change failure rate's tier.
    pub change_failure_rate: Option<String>,
    /// Time to restore's tier.
    pub time_to_restore: Option<String>,
}

/// Median of a non-empty slice (reordered), the mean of the middle two for even lengths.
fn median(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(hi);
    }
    let lo = v.get(..n / 2)?.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    Some(0.5 * (lo + hi))
}

/// The ids of the deployments the incidents name as their cause.
#[must_use]
pub fn failed_deployments(incidents: &[IncidentRecord]) -> BTreeSet<&str> {
    incidents.iter().filter_map(|i| i.change_id.as_deref()).collect()
}

/// What [`dora`] (and the polars path) count, before it becomes a report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Aggregates {
    pub(crate) period: TimeRange,
    pub(crate) deployments: usize,
    /// Distinct UTC days with a deployment.
    pub(crate) deploy_days: usize,
    pub(crate) lead_median_hours: Option<f64>,
    pub(crate) lead_samples: usize,
    pub(crate) failed: usize,
    pub(crate) restore_median_hours: Option<f64>,
    pub(crate) restored: usize,
    pub(crate) open: usize,
}

/// The default period: from the first to the last deployment, at least one day.
pub(crate) fn default_period(first: Option<i64>, last: Option<i64>) -> TimeRange {
    let first = Timestamp::from_millis(first.unwrap_or(0));
    let last = last.map_or(first, Timestamp::from_millis);
    TimeRange { start: first, end: last.max(first.add_millis(DAY_MS as i64)) }
}

impl Aggregates {
    /// The report: rates, notes on what cannot be computed, and the tiers.
    pub(crate) fn report(self, table: Option<&TierTable>) -> DoraReport {
        let mut notes = Vec::new();
        let period = self.period;
        let days = (period.end.as_millis() - period.start.as_millis()) as f64 / DAY_MS;
        let n = self.deployments;
        let frequency = (days > 0.0).then(|| n as f64 / days);
        let days_with = (days >= 1.0).then(|| (self.deploy_days as f64 / days.ceil()).min(1.0));
        if self.lead_samples == 0 && n > 0 {
            notes.push("no deployment carries a commit time: lead time for changes is unknown".into());
        }
        let cfr = (n > 0).then(|| self.failed as f64 / n as f64);
        if n == 0 {
            notes.push("no deployments in the period".into());
        }
        if self.restored == 0 {
            notes.push("no incident was restored in the period: time to restore is unknown".into());
        }
        let (lead, restore) = (self.lead_median_hours, self.restore_median_hours);
        let tiers = table.map(|t| {
            let best = |meets: &dyn Fn(&Tier) -> bool| t.tiers.iter().find(|x| meets(x)).map(|x| x.name.clone());
            TierPlacement {
                table_year: t.year,
                deployment_frequency: frequency.and_then(|f| best(&|x| f >= x.min_deploys_per_day)),
                lead_time: lead.and_then(|l| best(&|x| x.max_lead_time_hours.is_none_or(|m| l <= m))),
                change_failure_rate: cfr.and_then(|c| best(&|x| c <= x.max_change_failure_rate)),
                time_to_restore: restore.and_then(|r| best(&|x| x.max_restore_hours.is_none_or(|m| r <= m))),
            }
        });
        DoraReport {
            period,
            deployments: n,
            deployment_frequency_per_day: frequency,
            days_with_deploys: days_with,
            lead_time_median_hours: lead,
            lead_time_samples: self.lead_samples,
            change_failure_rate: cfr,
            failed_deployments: self.failed,
            time_to_restore_median_hours: restore,
            restored_incidents: self.restored,
            open_incidents: self.open,
            tiers,
            notes,
        }
    }
}

/// The UTC day of a time.
pub(crate) fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS as i64)
}

/// Computes the four keys over `period` (default: from the first to the last deployment,
/// at least one day), placed in `table`'s tiers when given.
#[must_use]
pub fn dora(
    deployments: &[Deployment],
    incidents: &[IncidentRecord],
    period: Option<TimeRange>,
    table: Option<&TierTable>,
) -> DoraReport {
    let period = period.unwrap_or_else(|| {
        let times = || deployments.iter().map(|d| d.deployed_at.as_millis());
        default_period(times().min(), times().max())
    });
    let in_period = |t: Timestamp| t >= period.start && t <= period.end;
    let deps: Vec<&Deployment> = deployments.iter().filter(|d| in_period(d.deployed_at)).collect();
    let deploy_days: BTreeSet<i64> = deps.iter().map(|d| day_of(d.deployed_at.as_millis())).collect();
    let mut leads: Vec<f64> = deps
        .iter()
        .filter_map(|d| d.commit_at.map(|c| (d.deployed_at.as_millis() - c.as_millis()) as f64 / HOUR_MS))
        .filter(|h| *h >= 0.0)
        .collect();
    let caused = failed_deployments(incidents);
    let in_scope: Vec<&IncidentRecord> = incidents.iter().filter(|i| in_period(i.started_at)).collect();
    let mut restores: Vec<f64> = in_scope
        .iter()
        .filter_map(|i| i.resolved_at.map(|r| (r.as_millis() - i.started_at.as_millis()) as f64 / HOUR_MS))
        .filter(|h| *h >= 0.0)
        .collect();
    Aggregates {
        period,
        deployments: deps.len(),
        deploy_days: deploy_days.len(),
        lead_samples: leads.len(),
        lead_median_hours: median(&mut leads),
        failed: deps.iter().filter(|d| d.failed || caused.contains(d.id.as_str())).count(),
        restored: restores.len(),
        restore_median_hours: median(&mut restores),
        open: in_scope.iter().filter(|i| i.resolved_at.is_none()).count(),
    }
    .report(table)
}

/// Reads deployments from CSV: `id,deployed_at` required; `service`, `commit_at`, `failed`
/// (`true`/`false`/`1`/`0`) optional. Times in RFC 3339, `YYYY-MM-DD HH:MM:SS` or Unix numbers.
///
/// # Errors
/// [`InputError`] naming the line and column of a missing column or an unreadable value.
pub fn read_deployments_csv(source: &str, bytes: &[u8]) -> Result<Vec<Deployment>, InputError> {
    read_rows(source, bytes, &["id", "deployed_at"], |row| {
        Ok(Deployment {
            id: row.text("id")?.to_string(),
            service: row.opt("service").unwrap_or_default().to_string(),
            deployed_at: row.time("deployed_at")?,
            commit_at: row.opt_time("commit_at")?,
            failed: match row.opt("failed").map(str::to_ascii_lowercase).as_deref() {
                None | Some("" | "false" | "0" | "no") => false,
                Some("true" | "1" | "yes") => true,
                Some(other) => return Err(row.err("failed", format!("`{other}` is not true or false"))),
            },
        })
    })
}

/// Reads incidents from CSV: `id,started_at` required; `resolved_at`, `change_id` optional.
///
/// # Errors
/// [`InputError`] naming the line and column of a missing column or an unreadable value.
pub fn read_incidents_csv(source: &str, bytes: &[u8]) -> Result<Vec<IncidentRecord>, InputError> {
    read_rows(source, bytes, &["id", "started_at"], |row| {
        Ok(IncidentRecord {
            id: row.text("id")?.to_string(),
            started_at: row.time("started_at")?,
            resolved_at: row.opt_time("resolved_at")?,
            change_id: row.opt("change_id").filter(|s| !s.is_empty()).map(str::to_string),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: f64) -> Timestamp {
        Timestamp::from_millis((h * HOUR_MS) as i64)
    }

    #[test]
    fn the_four_keys_follow_their_definitions() {
        // ten days, 20 deployments, lead times 1..20 hours, two failures (one by incident)
        let deployments: Vec<Deployment> = (0..20)
            .map(|i| Deployment {
                id: format!("d{i}"),
                service: "api".into(),
                deployed_at: t(12.0 * f64::from(i)),
                commit_at: Some(t(12.0 * f64::from(i) - f64::from(i + 1))),
                failed: i == 3,
            })
            .collect();
        let incidents = vec![
            IncidentRecord {
                id: "i1".into(),
                started_at: t(100.0),
                resolved_at: Some(t(100.5)),
                change_id: Some("d7".into()),
            },
            IncidentRecord { id: "i2".into(), started_at: t(150.0), resolved_at: Some(t(152.0)), change_id: None },
            IncidentRecord { id: "i3".into(), started_at: t(200.0), resolved_at: None, change_id: None },
        ];
        let period = TimeRange { start: t(0.0), end: t(240.0) };
        let table = TierTable::of_year(2024).unwrap();
        let r = dora(&deployments, &incidents, Some(period), Some(&table));
        assert_eq!(r.deployments, 20);
        assert!((r.deployment_frequency_per_day.unwrap() - 2.0).abs() < 1e-12);
        assert!((r.lead_time_median_hours.unwrap() - 10.5).abs() < 1e-12);
        assert!((r.change_failure_rate.unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(r.failed_deployments, 2);
        assert!((r.time_to_restore_median_hours.unwrap() - 1.25).abs() < 1e-12);
        assert_eq!((r.restored_incidents, r.open_incidents), (2, 1));
        let tiers = r.tiers.unwrap();
        assert_eq!(tiers.deployment_frequency.as_deref(), Some("elite"));
        assert_eq!(tiers.lead_time.as_deref(), Some("elite"));
        assert_eq!(tiers.change_failure_rate.as_deref(), Some("high"));
        assert_eq!(tiers.time_to_restore.as_deref(), Some("high"));
    }

    #[test]
    fn what_cannot_be_computed_is_unknown_not_zero() {
        let r = dora(&[], &[], None, TierTable::of_year(2024).as_ref());
        assert_eq!(r.deployments, 0);
        assert!(r.change_failure_rate.is_none() && r.lead_time_median_hours.is_none());
        assert!(r.time_to_restore_median_hours.is_none());
        assert!(r.notes.iter().any(|n| n.contains("no deployments")));
        let d = vec![Deployment {
            id: "a".into(),
            service: String::new(),
            deployed_at: t(1.0),
            commit_at: None,
            failed: false,
        }];
        let r = dora(&d, &[], None, None);
        assert!(r.notes.iter().any(|n| n.contains("commit time")));
        assert!(r.tiers.is_none());
    }

    #[test]
    fn csv_inputs_with_located_errors() {
        let d = read_deployments_csv(
            "d.csv",
            b"id,service,deployed_at,commit_at,failed\na,api,2026-11-01T10:00:00Z,2026-11-01T08:00:00Z,false\nb,api,2026-11-02T10:00:00Z,,true\n",
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        assert!(d[1].failed && d[1].commit_at.is_none());
        let e = read_deployments_csv("d.csv", b"id,deployed_at\na,yesterday\n").unwrap_err().to_string();
        assert!(e.contains("d.csv") && e.contains("line 2") && e.contains("deployed_at"), "{e}");
        assert!(read_incidents_csv("i.csv", b"id\nx\n").unwrap_err().to_string().contains("started_at"));
        let i =
            read_incidents_csv("i.csv", b"id,started_at,resolved_at,change_id\nx,2026-11-01T10:00:00Z,,b\n").unwrap();
        assert_eq!(i[0].change_id.as_deref(), Some("b"));
        assert!(i[0].resolved_at.is_none());
    }

    #[test]
    fn the_builtin_tables_are_the_2021_to_2024_reports() {
        let tables = TierTable::builtin();
        assert_eq!(tables.iter().map(|t| t.year).collect::<Vec<_>>(), vec![2021, 2022, 2023, 2024]);
        assert_eq!(TierTable::of_year(2022).unwrap().tiers.len(), 3, "2022 had no elite cluster");
        for t in &tables {
            assert!(t.tiers.iter().all(|x| x.published.is_some()), "{}", t.year);
            // frequency and duration bounds loosen from the best tier to the worst
            for w in t.tiers.windows(2) {
                assert!(w[0].min_deploys_per_day >= w[1].min_deploys_per_day, "{}", t.year);
                let le = |a: Option<f64>, b: Option<f64>| b.is_none() || a.zip(b).is_some_and(|(a, b)| a <= b);
                assert!(le(w[0].max_lead_time_hours, w[1].max_lead_time_hours), "{}", t.year);
                assert!(le(w[0].max_restore_hours, w[1].max_restore_hours), "{}", t.year);
            }
        }
        assert_eq!(TierTable::of_year(2020), None);
    }

    #[test]
    fn one_team_placed_by_each_years_table() {
        // weekly-ish deploys (0.5 a day), 30-hour lead time, 12% failures, 3-hour restores
        let days = 40;
        let deployments: Vec<Deployment> = (0..days / 2)
            .map(|i| Deployment {
                id: format!("d{i}"),
                service: "api".into(),
                deployed_at: t(48.0 * f64::from(i)),
                commit_at: Some(t(48.0 * f64::from(i) - 30.0)),
                failed: i % 25 < 3 && i < 25,
            })
            .collect();
        let failed = deployments.iter().filter(|d| d.failed).count();
        assert_eq!(failed, 3);
        let incidents =
            vec![IncidentRecord { id: "i".into(), started_at: t(10.0), resolved_at: Some(t(13.0)), change_id: None }];
        let period = TimeRange { start: t(0.0), end: t(24.0 * f64::from(days)) };
        let place = |year| {
            let table = TierTable::of_year(year).unwrap();
            let tiers = dora(&deployments, &incidents, Some(period), Some(&table)).tiers.unwrap();
            [tiers.deployment_frequency, tiers.lead_time, tiers.change_failure_rate, tiers.time_to_restore]
                .map(Option::unwrap)
        };
        // 0.5 deploys a day, 30 h, 15% (3 of 20), 3 h
        assert_eq!(place(2021), ["high", "high", "elite", "high"]);
        assert_eq!(place(2022), ["medium", "high", "high", "high"]);
        assert_eq!(place(2023), ["high", "high", "medium", "high"]);
        assert_eq!(place(2024), ["high", "high", "high", "high"]);
    }

    #[test]
    fn tier_files_are_checked() {
        let one = br#"{"year": 2030, "source": "s", "notes": "n", "tiers": [
            {"name": "all", "min_deploys_per_day": 0, "max_lead_time_hours": null,
             "max_change_failure_rate": 1, "max_restore_hours": null}]}"#;
        let t = TierTable::from_json("t.json", one).unwrap();
        assert_eq!((t.len(), t[0].year), (1, 2030));
        let no_catch_all = br#"[{"year": 2030, "source": "s", "notes": "n", "tiers": [
            {"name": "x", "min_deploys_per_day": 1, "max_lead_time_hours": 2,
             "max_change_failure_rate": 1, "max_restore_hours": null}]}]"#;
        let e = TierTable::from_json("t.json", no_catch_all).unwrap_err().to_string();
        assert!(e.contains("t.json") && e.contains("[0].tiers[0]") && e.contains("every team"), "{e}");
        let negative = br#"[{"year": 2030, "source": "s", "notes": "n", "tiers": [
            {"name": "x", "min_deploys_per_day": -1, "max_lead_time_hours": null,
             "max_change_failure_rate": 1, "max_restore_hours": null}]}]"#;
        let e = TierTable::from_json("t.json", negative).unwrap_err().to_string();
        assert!(e.contains("min_deploys_per_day"), "{e}");
        let typo = b"[{\"year\": 2030,\n \"source\": 5}]";
        let e = TierTable::from_json("t.json", typo).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("[0].source"), "{e}");
        let empty = br#"{"year": 2030, "source": "s", "notes": "n", "tiers": []}"#;
        assert!(TierTable::from_json("t.json", empty).unwrap_err().to_string().contains("at least one tier"));
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
