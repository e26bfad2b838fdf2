//! DORA's four keys over polars DataFrames (feature `polars`): for histories too large to hold
//! as [`Deployment`](crate::dora::Deployment) values, and for DataFrame output.
//!
//! Input columns (names as below; others are ignored):
//! - deployments: `id` (string), `deployed_at` (time); optional `commit_at` (time, nulls
//!   allowed), `failed` (boolean), `service` (string);
//! - incidents: `started_at` (time); optional `resolved_at` (time, null while open),
//!   `change_id` (string, the deployment that caused it).
//!
//! A time column is an integer of Unix milliseconds or a polars `Datetime` of any unit. The
//! results equal [`dora`](crate::dora::dora)'s on the same data (tested); the aggregation runs
//! in polars' lazy engine.

use faultlens_core::TimeRange;
use polars::prelude::*;

use crate::dora::{Aggregates, DAY_MS, DoraReport, HOUR_MS, TierTable, default_period};

/// Why a DataFrame could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A required column is missing, or a column has the wrong type.
    #[error("{frame}: column `{column}`: {message}")]
    Column {
        /// `deployments` or `incidents`.
        frame: &'static str,
        /// The column.
        column: String,
        /// What is wrong.
        message: String,
    },
    /// polars failed.
    #[error("polars: {0}")]
    Polars(#[from] PolarsError),
}

/// A time column as Unix milliseconds (`Int64`), or nulls of that type when it is optional
/// and absent.
fn millis(df: &DataFrame, frame: &'static str, name: &str, required: bool) -> Result<Expr, FrameError> {
    let err = |message: String| FrameError::Column { frame, column: name.to_string(), message };
    let Some(dtype) = df.schema().get(name).cloned() else {
        return if required { Err(err("missing".into())) } else { Ok(lit(NULL).cast(DataType::Int64).alias(name)) };
    };
    let per_ms = match dtype {
        DataType::Datetime(unit, _) => match unit {
            TimeUnit::Nanoseconds => 1_000_000,
            TimeUnit::Microseconds => 1_000,
            TimeUnit::Milliseconds => 1,
        },
        d if d.is_integer() => 1,
        d => return Err(err(format!("is {d}, not Unix milliseconds or a Datetime"))),
    };
    let ms = col(name).cast(DataType::Int64);
    Ok(if per_ms == 1 { ms } else { ms.floor_div(lit(per_ms)) }.alias(name))
}

/// A column of `dtype` (nulls allowed), or `default` when absent (`None`: required).
fn column(
    df: &DataFrame,
    frame: &'static str,
    name: &str,
    dtype: &DataType,
    default: Option<Expr>,
) -> Result<Expr, FrameError> {
    match df.schema().get(name) {
        None => default.map(|d| d.alias(name)).ok_or_else(|| FrameError::Column {
            frame,
            column: name.to_string(),
            message: "missing".into(),
        }),
        Some(d) if d == dtype || d.is_null() => Ok(col(name).cast(dtype.clone())),
        Some(d) => Err(FrameError::Column { frame, column: name.to_string(), message: format!("is {d}, not {dtype}") }),
    }
}

/// The deployments with normalised columns: `id`, `service`, `deployed_at`, `lead_h` (null
/// without a commit time or when negative), `is_failed`, `day`.
fn deployments_lazy(deployments: &DataFrame, incidents: &DataFrame) -> Result<LazyFrame, FrameError> {
    const D: &str = "deployments";
    let id = column(deployments, D, "id", &DataType::String, None)?;
    let deployed = millis(deployments, D, "deployed_at", true)?;
    let commit = millis(deployments, D, "commit_at", false)?;
    let failed = column(deployments, D, "failed", &DataType::Boolean, Some(lit(false)))?;
    let service = column(deployments, D, "service", &DataType::String, Some(lit("")))?;
    let caused = caused_ids(incidents)?;
    let lead = (col("deployed_at") - col("commit_at")).cast(DataType::Float64) / lit(HOUR_MS);
    Ok(deployments.clone().lazy().select([id, service, deployed, commit, failed]).with_columns([
        when(lead.clone().gt_eq(lit(0.0))).then(lead).otherwise(lit(NULL)).alias("lead_h"),
        (col("failed").fill_null(lit(false)).or(col("id").is_in(lit(caused).implode(false), false))).alias("is_failed"),
        col("deployed_at").floor_div(lit(DAY_MS as i64)).alias("day"),
    ]))
}

/// The ids incidents name as their cause.
fn caused_ids(incidents: &DataFrame) -> Result<Series, FrameError> {
    let Some(c) = incidents.column("change_id").ok() else {
        return Ok(Series::new_empty("change_id".into(), &DataType::String));
    };
    if !(c.dtype() == &DataType::String || c.dtype().is_null()) {
        let message = format!("is {}, not {}", c.dtype(), DataType::String);
        return Err(FrameError::Column { frame: "incidents", column: "change_id".into(), message });
    }
    Ok(c.as_materialized_series().cast(&DataType::String)?.drop_nulls())
}

/// The period and the filter for it.
fn period_of(deployments: &DataFrame, period: Option<TimeRange>) -> Result<TimeRange, FrameError> {
    if let Some(p) = period {
        return Ok(p);
    }
    let t = deployments
        .clone()
        .lazy()
        .select([millis(deployments, "deployments", "deployed_at", true)?])
        .select([col("deployed_at").min().alias("first"), col("deployed_at").max().alias("last")])
        .collect()?;
    let get = |name: &str| -> Result<Option<i64>, FrameError> { Ok(t.column(name)?.i64()?.get(0)) };
    Ok(default_period(get("first")?, get("last")?))
}

fn within(column: &str, p: TimeRange) -> Expr {
    col(column).gt_eq(lit(p.start.as_millis())).and(col(column).lt_eq(lit(p.end.as_millis())))
}

/// One `f64` cell of a one-row frame.
fn cell(df: &DataFrame, name: &str) -> Result<Option<f64>, FrameError> {
    Ok(df.column(name)?.cast(&DataType::Float64)?.f64()?.get(0))
}

/// Computes the four keys from DataFrames, as [`dora`](crate::dora::dora) does from values.
///
/// # Errors
/// [`FrameError::Column`] for a missing or mistyped column; [`FrameError::Polars`] when polars
/// fails.
pub fn dora_frame(
    deployments: &DataFrame,
    incidents: &DataFrame,
    period: Option<TimeRange>,
    table: Option<&TierTable>,
) -> Result<DoraReport, FrameError> {
    let period = period_of(deployments, period)?;
    let d = deployments_lazy(deployments, incidents)?
        .filter(within("deployed_at", period))
        .select([
            len().alias("n"),
            col("day").n_unique().alias("days"),
            col("lead_h").median().alias("lead"),
            col("lead_h").count().alias("lead_n"),
            col("is_failed").sum().alias("failed"),
        ])
        .collect()?;
    const I: &str = "incidents";
    let restore = (col("resolved_at") - col("started_at")).cast(DataType::Float64) / lit(HOUR_MS);
    let i = incidents
        .clone()
        .lazy()
        .select([millis(incidents, I, "started_at", true)?, millis(incidents, I, "resolved_at", false)?])
        .filter(within("started_at", period))
        .with_column(when(restore.clone().gt_eq(lit(0.0))).then(restore).otherwise(lit(NULL)).alias("restore_h"))
        .select([
            col("restore_h").median().alias("restore"),
            col("restore_h").count().alias("restored"),
            col("resolved_at").null_count().alias("open"),
        ])
        .collect()?;
    let count =
        |df: &DataFrame, name: &str| -> Result<usize, FrameError> { Ok(cell(df, name)?.map_or(0, |v| v as usize)) };
    Ok(Aggregates {
        period,
        deployments: count(&d, "n")?,
        deploy_days: count(&d, "days")?,
        lead_median_hours: cell(&d, "lead")?,
        lead_samples: count(&d, "lead_n")?,
        failed: count(&d, "failed")?,
        restore_median_hours: cell(&i, "restore")?,
        restored: count(&i, "restored")?,
        open: count(&i, "open")?,
    }
    .report(table))
}

/// Per service over the period: `service`, `deployments`, `deploys_per_day`,
/// `lead_time_median_hours`, `failed_deployments`, `change_failure_rate`, sorted by service.
/// (Time to restore is not split: incidents do not carry a service.)
///
/// # Errors
/// As [`dora_frame`].
pub fn dora_by_service(
    deployments: &DataFrame,
    incidents: &DataFrame,
    period: Option<TimeRange>,
) -> Result<DataFrame, FrameError> {
    let period = period_of(deployments, period)?;
    let days = (period.end.as_millis() - period.start.as_millis()) as f64 / DAY_MS;
    Ok(deployments_lazy(deployments, incidents)?
        .filter(within("deployed_at", period))
        .group_by([col("service")])
        .agg([
            len().alias("deployments"),
            col("lead_h").median().alias("lead_time_median_hours"),
            col("is_failed").sum().alias("failed_deployments"),
        ])
        .with_columns([
            (col("deployments").cast(DataType::Float64) / lit(days)).alias("deploys_per_day"),
            (col("failed_deployments").cast(DataType::Float64) / col("deployments").cast(DataType::Float64))
                .alias("change_failure_rate"),
        ])
        .select([
            col("service"),
            col("deployments"),
            col("deploys_per_day"),
            col("lead_time_median_hours"),
            col("failed_deployments"),
            col("change_failure_rate"),
        ])
        .sort(["service"], SortMultipleOptions::default())
        .collect()?)
}

impl DoraReport {
    /// The report as a DataFrame: one row per key with `metric`, `value` (null when unknown),
    /// `unit` and `tier` (null without a table).
    ///
    /// # Errors
    /// [`FrameError::Polars`] when polars fails.
    pub fn to_frame(&self) -> Result<DataFrame, FrameError> {
        let rows = self.key_rows();
        Ok(DataFrame::new_infer_height(vec![
            Column::new("metric".into(), rows.iter().map(|r| r.id).collect::<Vec<_>>()),
            Column::new("value".into(), rows.iter().map(|r| r.value).collect::<Vec<_>>()),
            Column::new("unit".into(), rows.iter().map(|r| r.unit).collect::<Vec<_>>()),
            Column::new("tier".into(), rows.iter().map(|r| r.tier.clone()).collect::<Vec<_>>()),
        ])?)
    }
}

#[cfg(test)]
mod tests {
    use faultlens_core::Timestamp;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::dora::{Deployment, IncidentRecord, dora};

    fn history(seed: u64, n: usize) -> (Vec<Deployment>, Vec<IncidentRecord>) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let day = DAY_MS as i64;
        let deployments: Vec<Deployment> = (0..n)
            .map(|k| {
                let at = 1_790_000_000_000 + rng.random_range(0..60 * day);
                Deployment {
                    id: format!("d{k}"),
                    service: ["api", "cart", "web"][k % 3].into(),
                    deployed_at: Timestamp::from_millis(at),
                    // some without a commit time, some committed after (bad data: ignored)
                    commit_at: match k % 7 {
                        0 => None,
                        1 => Some(Timestamp::from_millis(at + 5_000)),
                        _ => Some(Timestamp::from_millis(at - rng.random_range(0..3 * day))),
                    },
                    failed: rng.random_bool(0.05),
                }
            })
            .collect();
        let incidents: Vec<IncidentRecord> = (0..n / 10)
            .map(|k| {
                let at = 1_790_000_000_000 + rng.random_range(0..60 * day);
                IncidentRecord {
                    id: format!("i{k}"),
                    started_at: Timestamp::from_millis(at),
                    resolved_at: (k % 9 != 0).then(|| Timestamp::from_millis(at + rng.random_range(0..day))),
                    change_id: (k % 2 == 0).then(|| format!("d{}", rng.random_range(0..n))),
                }
            })
            .collect();
        (deployments, incidents)
    }

    fn frames(d: &[Deployment], i: &[IncidentRecord]) -> (DataFrame, DataFrame) {
        let ms = |t: Option<Timestamp>| t.map(|t| t.as_millis());
        let deployments = df!(
            "id" => d.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
            "service" => d.iter().map(|x| x.service.clone()).collect::<Vec<_>>(),
            "deployed_at" => d.iter().map(|x| x.deployed_at.as_millis()).collect::<Vec<_>>(),
            "commit_at" => d.iter().map(|x| ms(x.commit_at)).collect::<Vec<_>>(),
            "failed" => d.iter().map(|x| x.failed).collect::<Vec<_>>(),
        )
        .unwrap();
        let incidents = df!(
            "id" => i.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
            "started_at" => i.iter().map(|x| x.started_at.as_millis()).collect::<Vec<_>>(),
            "resolved_at" => i.iter().map(|x| ms(x.resolved_at)).collect::<Vec<_>>(),
            "change_id" => i.iter().map(|x| x.change_id.clone()).collect::<Vec<_>>(),
        )
        .unwrap();
        (deployments, incidents)
    }

    fn same(a: &DoraReport, b: &DoraReport) {
        let close = |x: Option<f64>, y: Option<f64>| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
            (None, None) => true,
            _ => false,
        };
        assert_eq!((a.period, a.deployments, a.failed_deployments), (b.period, b.deployments, b.failed_deployments));
        assert_eq!(
            (a.lead_time_samples, a.restored_incidents, a.open_incidents),
            (b.lead_time_samples, b.restored_incidents, b.open_incidents)
        );
        assert!(close(a.deployment_frequency_per_day, b.deployment_frequency_per_day));
        assert!(close(a.days_with_deploys, b.days_with_deploys));
        assert!(close(a.lead_time_median_hours, b.lead_time_median_hours), "{a:?} {b:?}");
        assert!(close(a.change_failure_rate, b.change_failure_rate));
        assert!(close(a.time_to_restore_median_hours, b.time_to_restore_median_hours));
        assert_eq!((&a.tiers, &a.notes), (&b.tiers, &b.notes));
    }

    #[test]
    fn the_frame_path_equals_the_value_path() {
        let table = TierTable::of_year(2024).unwrap();
        for (seed, n) in [(1, 500), (2, 2_001), (3, 40)] {
            let (d, i) = history(seed, n);
            let (df, inc) = frames(&d, &i);
            same(&dora_frame(&df, &inc, None, Some(&table)).unwrap(), &dora(&d, &i, None, Some(&table)));
            let p = TimeRange {
                start: Timestamp::from_millis(1_790_000_000_000 + 10 * DAY_MS as i64),
                end: Timestamp::from_millis(1_790_000_000_000 + 30 * DAY_MS as i64),
            };
            same(&dora_frame(&df, &inc, Some(p), None).unwrap(), &dora(&d, &i, Some(p), None));
        }
    }

    #[test]
    fn empty_and_minimal_frames() {
        let (d, i) = frames(&[], &[]);
        same(&dora_frame(&d, &i, None, None).unwrap(), &dora(&[], &[], None, None));
        // only the required columns, times as a Datetime in microseconds
        let at = Series::new("deployed_at".into(), [1_790_000_000_000_000i64, 1_790_000_100_000_000])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap();
        let d = DataFrame::new_infer_height(vec![Column::new("id".into(), ["a", "b"]), at.into()]).unwrap();
        let i = df!("started_at" => [1_790_000_050_000i64]).unwrap();
        let r = dora_frame(&d, &i, None, None).unwrap();
        assert_eq!((r.deployments, r.failed_deployments, r.open_incidents), (2, 0, 1));
        assert!(r.lead_time_median_hours.is_none() && r.notes.iter().any(|n| n.contains("commit time")));
    }

    #[test]
    fn bad_columns_are_named() {
        let d = df!("id" => ["a"], "deployed_at" => ["yesterday"]).unwrap();
        let i = df!("started_at" => [1i64]).unwrap();
        let e = dora_frame(&d, &i, None, None).unwrap_err().to_string();
        assert!(e.contains("deployments") && e.contains("deployed_at") && e.contains("str"), "{e}");
        let d = df!("deployed_at" => [1i64]).unwrap();
        assert!(dora_frame(&d, &i, None, None).unwrap_err().to_string().contains("`id`: missing"));
        let d = df!("id" => ["a"], "deployed_at" => [1i64], "failed" => ["yes"]).unwrap();
        assert!(dora_frame(&d, &i, None, None).unwrap_err().to_string().contains("`failed`"));
    }

    #[test]
    fn per_service_and_report_frames() {
        let (d, i) = history(7, 900);
        let (df, inc) = frames(&d, &i);
        let by = dora_by_service(&df, &inc, None).unwrap();
        assert_eq!(by.height(), 3);
        let services: Vec<Option<&str>> = by.column("service").unwrap().str().unwrap().iter().collect();
        assert_eq!(services, [Some("api"), Some("cart"), Some("web")]);
        let total: u32 =
            by.column("deployments").unwrap().cast(&DataType::UInt32).unwrap().u32().unwrap().sum().unwrap();
        assert_eq!(total, 900);
        // each service's keys equal the value path over its own deployments
        let api: Vec<Deployment> = d.iter().filter(|x| x.service == "api").cloned().collect();
        let whole = dora(&d, &i, None, None);
        let r = dora(&api, &i, Some(whole.period), None);
        let cfr = by.column("change_failure_rate").unwrap().f64().unwrap().get(0).unwrap();
        assert!((cfr - r.change_failure_rate.unwrap()).abs() < 1e-12);
        let lead = by.column("lead_time_median_hours").unwrap().f64().unwrap().get(0).unwrap();
        assert!((lead - r.lead_time_median_hours.unwrap()).abs() < 1e-9);

        let report = dora(&d, &i, None, TierTable::of_year(2024).as_ref()).to_frame().unwrap();
        assert_eq!(report.shape(), (4, 4));
        assert_eq!(report.column("metric").unwrap().str().unwrap().get(2), Some("change_failure_rate"));
        assert_eq!(report.column("tier").unwrap().str().unwrap().get(0), whole_tier(&d, &i).as_deref());
    }

    fn whole_tier(d: &[Deployment], i: &[IncidentRecord]) -> Option<String> {
        dora(d, i, None, TierTable::of_year(2024).as_ref()).tiers.and_then(|t| t.deployment_frequency)
    }
}
