//! Invariants and bad-input behaviour of the metric detectors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use faultlens_core::{Labels, MetricSeries, SeriesDetector, SeriesStream, TimeRange, Timestamp};
use faultlens_detect::metrics::{
    AnomalyKind, AnomalyWindow, BatchConfig, DetectConfig, Ensemble, Mode, STATE_FORMAT, SeriesRef, StreamConfig,
    StreamingDetector, detect_many, group_by_service, rank_in_window, score_batch, score_streaming,
};
use proptest::prelude::*;

fn detectors() -> Vec<Ensemble> {
    vec![
        Ensemble::new(DetectConfig::default().with_mode(Mode::Stream)),
        Ensemble::new(DetectConfig::default().with_mode(Mode::Batch)),
    ]
}

/// A score as the contract has it: finite, in [0, 1], and never `-0.0` (which a CSV prints as
/// `-0.000000`).
fn in_unit(s: f64) -> bool {
    s.is_finite() && (0.0..=1.0).contains(&s) && s.is_sign_positive()
}

/// Every detector gives one finite score in [0, 1] per point, and the same scores twice.
fn conforms(ts: &[i64], vs: &[f64]) {
    for d in detectors() {
        let a = d.score_batch(ts, vs).unwrap();
        assert_eq!(a.len(), vs.len(), "{}", d.name());
        assert!(a.iter().all(|&s| in_unit(s)), "{}: {a:?}", d.name());
        assert_eq!(a, d.score_batch(ts, vs).unwrap(), "{} is not deterministic", d.name());
        let mut st = d.start_stream();
        for (&t, &v) in ts.iter().zip(vs) {
            let s = st.update(t, v);
            assert!(in_unit(s), "{}: {s:?}", d.name());
        }
    }
}

/// The alarm level of the default streaming scorer: the score of a tail probability of
/// `events.open_p` (1/3 for 0.01 over six decades).
fn alarm_level() -> f64 {
    let c = StreamConfig::default();
    -c.events.open_p.log10() / c.score_decades
}

fn regular(n: usize, step: i64) -> Vec<i64> {
    (0..n as i64).map(|i| 1_700_000_000_000 + i * step).collect()
}

fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 10_000) as f64 / 10_000.0 - 0.5
        })
        .collect()
}

#[test]
fn bad_inputs_have_defined_behaviour() {
    conforms(&[], &[]);
    conforms(&[5], &[1.0]);
    let ts = regular(500, 60_000);
    conforms(&ts, &vec![f64::NAN; 500]);
    conforms(&ts, &vec![f64::INFINITY; 500]);
    let mut mixed = noise(500, 1);
    for i in (0..500).step_by(7) {
        mixed[i] = if i % 2 == 0 { f64::NAN } else { f64::NEG_INFINITY };
    }
    conforms(&ts, &mixed);
    // non-monotonic and duplicate timestamps
    let mut shuffled = ts.clone();
    shuffled.swap(10, 200);
    shuffled[300] = shuffled[299];
    conforms(&shuffled, &noise(500, 2));
    // irregular sampling and a gap of three days
    let mut irregular: Vec<i64> = ts.iter().enumerate().map(|(i, t)| t + (i as i64 % 7) * 9_000).collect();
    for t in irregular.iter_mut().skip(250) {
        *t += 3 * 86_400_000;
    }
    conforms(&irregular, &noise(500, 3));
    // mismatched lengths are an error, not a panic
    assert!(detectors()[0].score_batch(&ts[..3], &[1.0]).is_err());
}

#[test]
fn constant_flat_and_quantised_series_do_not_storm() {
    let ts = regular(3000, 60_000);
    for d in detectors() {
        let flat = d.score_batch(&ts, &vec![42.0; 3000]).unwrap();
        assert!(flat.iter().all(|&s| s < 0.5), "{}: constant series alarmed", d.name());
        // an integer counter that mostly sits still and ticks by one
        let quant: Vec<f64> = noise(3000, 9).iter().map(|v| if *v > 0.45 { 1.0 } else { 0.0 }).collect();
        let s = d.score_batch(&ts, &quant).unwrap();
        let alarms = s.iter().filter(|&&v| v >= 0.5).count();
        assert!(alarms <= 15, "{}: {alarms} alarms on a quantised series", d.name());
        // a sparse series: zero but for rare single events of the same size
        let sparse: Vec<f64> = (0..3000).map(|i| if i % 97 == 0 { 5.0 } else { 0.0 }).collect();
        let s = d.score_batch(&ts, &sparse).unwrap();
        let late = s.iter().skip(1500).filter(|&&v| v >= 0.5).count();
        assert!(late <= 3, "{}: a recurring event kept alarming ({late})", d.name());
        // gappy: the same noise with gaps of hours and of days is not a stream of alarms
        let mut gappy = ts.clone();
        for (i, t) in gappy.iter_mut().enumerate() {
            *t += (i as i64 / 300) * 6 * 3_600_000 + (i as i64 / 1000) * 2 * 86_400_000;
        }
        let s = d.score_batch(&gappy, &noise(3000, 12)).unwrap();
        let alarms = s.iter().filter(|&&v| v >= 0.5).count();
        assert!(alarms <= 6, "{}: {alarms} alarms on gappy noise", d.name());
    }
}

#[test]
fn spikes_and_shifts_are_found_once_at_onset() {
    let ts = regular(2000, 60_000);
    let mut v = noise(2000, 5);
    v[1200] += 25.0;
    for x in v.iter_mut().skip(1600) {
        *x += 10.0;
    }
    for d in detectors() {
        let s = d.score_batch(&ts, &v).unwrap();
        assert!(s[1200] >= 0.5, "{}: spike scored {}", d.name(), s[1200]);
        let onset = (1598..1606).map(|i| s[i]).fold(0.0, f64::max);
        assert!(onset >= 0.5, "{}: shift onset scored {onset}", d.name());
        let after = s[1620..].iter().filter(|&&x| x >= 0.5).count();
        assert!(after <= 2, "{}: the shift alarmed {after} more times", d.name());
        let before = s[200..1190].iter().filter(|&&x| x >= 0.5).count();
        assert!(before <= 2, "{}: {before} false alarms on noise", d.name());
    }
}

#[test]
fn state_round_trips_and_continues_identically() {
    let ts = regular(3000, 300_000);
    let v: Vec<f64> = noise(3000, 8).iter().enumerate().map(|(i, n)| (i as f64 / 40.0).sin() * 3.0 + n).collect();
    let mut a = StreamingDetector::default();
    let first: Vec<f64> = ts[..1500].iter().zip(&v[..1500]).map(|(&t, &x)| a.update(t, x).score).collect();
    let saved = serde_json::to_string(&a).unwrap();
    let mut b: StreamingDetector = serde_json::from_str(&saved).unwrap();
    for (&t, &x) in ts[1500..].iter().zip(&v[1500..]) {
        assert_eq!(a.update(t, x), b.update(t, x));
    }
    let whole: Vec<f64> = score_streaming(&ts, &v, &StreamConfig::default()).iter().map(|p| p.score).collect();
    assert_eq!(&whole[..1500], &first[..]);
    assert!(a.state().memory_bytes() <= 2048, "state is {} bytes", a.state().memory_bytes());
}

/// A detector saved by this build: 15 days of a daily wave at 5-minute steps, so every part of
/// the state (the daily profile's bins, the histograms, the range, the stretch record) is filled.
const STATE_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stream-state.json");

fn daily_wave(n: usize) -> (Vec<i64>, Vec<f64>) {
    let ts = regular(n, 300_000);
    let v = noise(n, 21)
        .iter()
        .enumerate()
        .map(|(i, e)| 5.0 * (i as f64 * std::f64::consts::TAU / 288.0).sin() + e)
        .collect();
    (ts, v)
}

/// The saved layout is pinned: a state saved in this [`STATE_FORMAT`] loads, and saves back to
/// the same JSON, field for field. A change to the state's fields fails here until the format
/// is bumped and the fixture regenerated (`make state-fixture`), so a state saved
/// by another build is refused with a clear message instead of being misread.
/// The layout of a saved state: its fields, the types of their values and the lengths of its
/// arrays, with every number replaced by zero.
fn layout(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(_) => Value::from(0),
        Value::Array(a) => Value::Array(a.iter().map(layout).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), layout(v))).collect()),
        other => other.clone(),
    }
}

#[test]
fn saved_state_layout_is_pinned_to_its_format() {
    let (ts, v) = daily_wave(288 * 15);
    if std::env::var_os("FAULTLENS_UPDATE_STATE_FIXTURE").is_some() {
        let mut d = StreamingDetector::default();
        for (&t, &x) in ts.iter().zip(&v) {
            d.update(t, x);
        }
        let json = serde_json::to_string_pretty(&d.snapshot().unwrap()).unwrap();
        std::fs::create_dir_all(std::path::Path::new(STATE_FIXTURE).parent().unwrap()).unwrap();
        std::fs::write(STATE_FIXTURE, json + "\n").unwrap();
    }
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(STATE_FIXTURE).unwrap()).unwrap();
    assert_eq!(saved["format"], STATE_FORMAT, "the fixture is of another format: regenerate it (make state-fixture)");
    let restored = StreamingDetector::restore(saved.clone()).unwrap_or_else(|e| {
        panic!(
            "a state saved in format {STATE_FORMAT} no longer loads ({e}): bump STATE_FORMAT and regenerate the fixture"
        )
    });
    assert_eq!(
        layout(&serde_json::to_value(&restored).unwrap()),
        layout(&saved),
        "the state's fields changed: bump STATE_FORMAT and regenerate the fixture (make state-fixture)"
    );
    assert!(restored.state().points() as usize == ts.len() && restored.state().memory_bytes() > 1500);
    // a setting added to the configuration without a change to the state (`range_margin`)
    // leaves the format alone: a snapshot saved before it loads with its default
    let mut older = saved;
    older["config"].as_object_mut().unwrap().remove("range_margin").unwrap();
    let loaded = StreamingDetector::restore(older).unwrap();
    assert_eq!(loaded.config().range_margin, StreamConfig::default().range_margin);
    assert_eq!(loaded.state(), restored.state());
}

#[test]
fn a_saved_stream_resumes_only_where_it_can() {
    let (ts, v) = daily_wave(288 * 5);
    let ensemble = Ensemble::new(DetectConfig::default());
    let mut a = ensemble.start_stream();
    for (&t, &x) in ts[..1000].iter().zip(&v[..1000]) {
        a.update(t, x);
    }
    // saved as text, as a process would write it, and resumed by the same settings, it continues
    // exactly as the stream that never stopped
    let text = serde_json::to_string(&a.snapshot().unwrap()).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut b = ensemble.resume_stream(saved.clone()).unwrap();
    for (&t, &x) in ts[1000..].iter().zip(&v[1000..]) {
        assert_eq!(a.update(t, x), b.update(t, x));
    }
    // other settings, another build's format, or something else altogether: refused, with why
    let other = Ensemble::new(DetectConfig {
        stream: StreamConfig { warmup: 31, ..StreamConfig::default() },
        ..DetectConfig::default()
    });
    let e = other.resume_stream(saved.clone()).unwrap_err().to_string();
    assert!(e.contains("other streaming settings"), "{e}");
    let mut old = saved.clone();
    old.as_object_mut().unwrap().remove("format");
    let e = StreamingDetector::restore(old).unwrap_err().to_string();
    assert!(e.contains("state format 0") && e.contains(&format!("format {STATE_FORMAT}")), "{e}");
    let mut newer = saved.clone();
    newer["format"] = serde_json::json!(STATE_FORMAT + 1);
    assert!(
        StreamingDetector::restore(newer)
            .unwrap_err()
            .to_string()
            .contains(&format!("state format {}", STATE_FORMAT + 1))
    );
    let mut garbled = saved;
    garbled["state"]["level"] = serde_json::json!("high");
    let e = StreamingDetector::restore(garbled).unwrap_err().to_string();
    assert!(e.contains("detector state") && e.contains("invalid type"), "{e}");
    let e = StreamingDetector::restore(serde_json::json!({"format": "one"})).unwrap_err().to_string();
    assert!(e.contains("`format`"), "{e}");
    // the batch ensemble has no stream of its own to resume
    let batch = Ensemble::new(DetectConfig::default().with_mode(Mode::Batch));
    assert!(batch.resume_stream(serde_json::json!({})).is_err());
}

#[test]
fn many_series_rank_and_group() {
    let ts = regular(600, 60_000);
    let mut series = Vec::new();
    for (i, svc) in ["api", "api", "db", "web"].iter().enumerate() {
        let mut v = noise(600, i as u64 + 20);
        if *svc != "web" {
            for x in v.iter_mut().skip(500) {
                *x += if *svc == "db" { 30.0 } else { 12.0 };
            }
        }
        let labels = Labels::from_pairs([("service", *svc), ("pod", &format!("p{i}"))]);
        series.push(MetricSeries::new("m", labels, ts.clone(), v).unwrap());
    }
    let config = DetectConfig::default();
    let analyses = detect_many(&series, &[], &config);
    assert_eq!(analyses, detect_many(&series, &[], &config), "parallel detection must be deterministic");
    let range = TimeRange::new(Timestamp::from_millis(ts[450]), Timestamp::from_millis(ts[599])).unwrap();
    let ranked = rank_in_window(&series, &analyses, range);
    // the three shifted series rank first; plain noise may reach a one-in-a-thousand point by
    // chance, but never above a real shift
    assert!(ranked.len() >= 3);
    assert!(ranked[..3].iter().all(|r| r.service.as_deref() != Some("web")), "{ranked:?}");
    let groups = group_by_service(&ranked);
    let names: Vec<&str> = groups.iter().map(|(s, _)| s.as_str()).collect();
    assert!(names.contains(&"api") && names.contains(&"db"));
    assert_eq!(groups.iter().find(|(s, _)| s == "api").map(|(_, g)| g.len()), Some(2));
    let w = &analyses[ranked[0].index].windows[0];
    assert!(w.evidence.range.is_some() && !w.evidence.detail.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn scores_bounded_and_deterministic(vals in proptest::collection::vec(prop_oneof![
        8 => -1e6f64..1e6,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(0.0),
    ], 0..300), steps in proptest::collection::vec(-5i64..120, 0..300)) {
        let mut t = 1_700_000_000_000i64;
        let ts: Vec<i64> = (0..vals.len()).map(|i| { t += steps.get(i).copied().unwrap_or(60) * 1000; t }).collect();
        conforms(&ts, &vals);
    }

    /// Causal: changing the point at t+1 never changes the score at t or before.
    #[test]
    fn streaming_never_reads_the_future(vals in proptest::collection::vec(-100f64..100.0, 20..200), k in 0usize..199, bump in -1e4f64..1e4) {
        let k = k % vals.len();
        let ts = regular(vals.len(), 60_000);
        let a: Vec<f64> = score_streaming(&ts, &vals, &StreamConfig::default()).iter().map(|p| p.score).collect();
        let mut changed = vals.clone();
        changed[k] += bump;
        let b: Vec<f64> = score_streaming(&ts, &changed, &StreamConfig::default()).iter().map(|p| p.score).collect();
        prop_assert_eq!(&a[..k], &b[..k]);
    }
}

#[test]
fn aggregation_bridges_pod_churn() {
    let ts = regular(400, 60_000);
    let old = MetricSeries::new(
        "err",
        Labels::from_pairs([("service", "a"), ("pod", "a-1")]),
        ts[..300].to_vec(),
        noise(300, 4),
    )
    .unwrap();
    let new_vals: Vec<f64> = noise(100, 5).iter().map(|v| v + 20.0).collect();
    let new =
        MetricSeries::new("err", Labels::from_pairs([("service", "a"), ("pod", "a-2")]), ts[300..].to_vec(), new_vals)
            .unwrap();
    let agg = faultlens_detect::metrics::aggregate_by(&[old, new], &["service"]);
    assert_eq!(agg.len(), 1);
    assert_eq!(agg[0].len(), 400);
    assert_eq!(agg[0].labels().get("pod"), None);
    let a = detect_many(&agg, &[], &DetectConfig::default());
    assert!(
        a[0].windows.iter().any(|w| w.onset_index == 300),
        "{:?}",
        a[0].windows.iter().map(|w| w.onset_index).collect::<Vec<_>>()
    );
}

/// Calibration: on noise of very different shapes (Gaussian-like, an integer counter with an
/// exponential tail, heavy-tailed), the same score threshold flags a similar share of points.
#[test]
fn scores_mean_the_same_rarity_across_series_shapes() {
    let n = 20_000;
    let ts = regular(n, 60_000);
    let u = noise(n, 77);
    let u2 = noise(n, 78);
    let gaussian: Vec<f64> = u.iter().zip(&u2).map(|(a, b)| 100.0 + 5.0 * (a + b) * 1.7).collect();
    // an integer counter with an exponential tail (geometric counts)
    let counter: Vec<f64> = u.iter().map(|a| (-(a + 0.5).max(1e-9).ln() * 2.0).floor()).collect();
    let heavy: Vec<f64> = u.iter().map(|a| 10.0 + 0.2 / (a.abs() + 0.02) * a.signum()).collect();
    let mut shares = Vec::new();
    for (name, v) in [("gaussian", gaussian), ("counter", counter), ("heavy", heavy)] {
        let s: Vec<f64> = score_streaming(&ts, &v, &StreamConfig::default()).iter().map(|p| p.score).collect();
        let share = s[2000..].iter().filter(|&&x| x >= 0.3).count() as f64 / (n - 2000) as f64;
        shares.push((name, share));
    }
    let max = shares.iter().map(|s| s.1).fold(0.0, f64::max);
    let min = shares.iter().map(|s| s.1).fold(1.0, f64::min);
    assert!(max <= 0.01, "too many alarms on noise: {shares:?}");
    assert!(max <= 4.0 * min.max(0.0005), "shares differ too much: {shares:?}");
}

/// A daily wave whose noise grows with its level: calm at the night's trough (+-1), noisy at the
/// day's peak (+-21). A jump at night to the size of the day's noise is news only when measured
/// against the night's own spread, not the whole day's.
#[test]
fn a_jump_in_a_quiet_hour_stands_out() {
    let step = 300_000;
    let n = 12 * 288;
    let ts = regular(n, step);
    let phase = |i: usize| ((ts[i] / step) % 288) as f64 / 288.0 * std::f64::consts::TAU;
    // the trough at 03:00 UTC, the peak at 15:00
    let level = |i: usize| 50.0 - 50.0 * (phase(i) - std::f64::consts::TAU / 8.0).cos();
    let v: Vec<f64> = noise(n, 4).iter().enumerate().map(|(i, e)| level(i) + (2.0 + 0.4 * level(i)) * e).collect();
    // 03:00 on the eleventh day
    let at = (10 * 288..n).find(|&i| (ts[i] / step) % 288 == 36).unwrap();
    let mut jumped = v.clone();
    for x in &mut jumped[at..at + 12] {
        *x += 20.0;
    }
    // the hours' spreads alone (familiar shapes are judged against the whole day's deviations,
    // so a jump small against the busy hours' noise is damped a little; it still alarms)
    let hours = StreamConfig { shape_damping: 1.0, ..StreamConfig::default() };
    let off = StreamConfig { hour_spread_limit: 1.0, ..hours.clone() };
    let peak = |config: &StreamConfig| {
        let s = score_streaming(&ts, &jumped, config);
        s[at..at + 4].iter().map(|p| p.score).fold(0.0, f64::max)
    };
    let (on, off_peak) = (peak(&hours), peak(&off));
    assert!(on >= 0.5, "the night jump scored {on} (against the whole day's spread: {off_peak})");
    assert!(on > off_peak + 0.1, "the night's spread: {on}; the whole day's: {off_peak}");
    let default = peak(&StreamConfig::default());
    assert!(default > 0.34, "with the defaults the night jump scored {default}");
    // and the plain series, busy hours included, does not alarm more for it
    let alarms = |config: &StreamConfig| {
        score_streaming(&ts, &v, config).iter().skip(4 * 288).filter(|p| p.score >= 0.5).count()
    };
    let (a_on, a_off) = (alarms(&StreamConfig::default()), alarms(&off));
    assert!(a_on <= a_off + 1, "{a_on} alarms on the plain series, {a_off} without the hours' spread");
}

/// A spike a nightly job causes at 02:00 stops alarming once it has repeated on the two days
/// before; a spike at another hour, or a nightly one ten times larger, still alarms.
#[test]
fn a_nightly_spike_is_expected_after_two_nights() {
    let n = 288 * 10;
    let ts = regular(n, 300_000);
    // the first point of each UTC day (the series starts at 22:13)
    let day_start = |d: usize| (0..n).find(|&i| ts[i] % 86_400_000 < 300_000).unwrap() + 288 * d;
    let mut v: Vec<f64> = noise(n, 17).iter().map(|e| 10.0 + e).collect();
    let nightly: Vec<usize> = (0..9).map(|d| day_start(d) + 24).filter(|&i| i > 300).collect();
    for &i in &nightly {
        v[i] += 6.0;
    }
    let afternoon = day_start(7) + 14 * 12;
    v[afternoon] += 6.0;
    let scores = |v: &[f64], days: u32| -> Vec<f64> {
        let config = StreamConfig { daily_repeat_days: days, ..StreamConfig::default() };
        score_streaming(&ts, v, &config).iter().map(|p| p.score).collect()
    };
    let (on, off) = (scores(&v, 2), scores(&v, 0));
    let alarm = alarm_level() + 1e-9; // a tail probability below events.open_p
    // the first two nights alarm either way
    assert!(nightly[..2].iter().all(|&i| on[i] > alarm), "{:?}", nightly.iter().map(|&i| on[i]).collect::<Vec<_>>());
    // from the third night on the spike is expected; without the record it keeps alarming
    assert!(nightly[2..].iter().all(|&i| on[i] <= alarm), "{:?}", nightly.iter().map(|&i| on[i]).collect::<Vec<_>>());
    assert!(
        nightly[2..].iter().filter(|&&i| off[i] > alarm).count() >= 4,
        "{:?}",
        nightly.iter().map(|&i| off[i]).collect::<Vec<_>>()
    );
    // the same spike at 14:00 is news
    assert!(on[afternoon] > alarm, "{}", on[afternoon]);
    // a nightly spike far rarer than the nights before is news too
    let last = *nightly.last().unwrap();
    v[last] += 40.0;
    let s = scores(&v, 2)[last];
    assert!(s > 0.5, "{s}");
}

/// Each window names the test that found it, in both modes.
#[test]
fn windows_name_the_test_that_found_them() {
    let (stream, batch) = (detectors().remove(0), detectors().remove(1));
    let near = |windows: &[AnomalyWindow], at: std::ops::Range<usize>| {
        windows.iter().filter(|w| at.contains(&w.onset_index)).filter_map(|w| w.kind).collect::<Vec<_>>()
    };
    // a spike that stays inside the range of a daily wave, at its trough: the residual finds it
    let n = 288 * 14;
    let ts = regular(n, 300_000);
    let mut v: Vec<f64> = (0..n).map(|i| 10.0 * (std::f64::consts::TAU * i as f64 / 288.0).sin()).collect();
    for (x, e) in v.iter_mut().zip(noise(n, 3)) {
        *x += 0.5 * e;
    }
    let trough = 288 * 12 + 216;
    v[trough] += 8.0;
    assert!(v[trough] < 0.0, "the spike stays inside the wave's range");
    let a = stream.analyse(&SeriesRef::default(), &ts, &v);
    assert_eq!(near(&a.windows, trough..trough + 1), [AnomalyKind::Residual], "{:?}", a.windows);
    assert!(a.windows.iter().all(|w| w.evidence.detail.contains(" (test: ")));

    // a shift of a third of the noise's width: no single point is rare, the stretch's mean is
    let ts = regular(2000, 60_000);
    let mut v = noise(2000, 5);
    for x in v.iter_mut().skip(1500) {
        *x += 0.3;
    }
    let a = stream.analyse(&SeriesRef::default(), &ts, &v);
    assert!(near(&a.windows, 1500..1700).contains(&AnomalyKind::Stretch), "{:?}", a.windows);

    // batch: a spike is a residual, a level shift's onset a shift
    let mut v = noise(2000, 5);
    v[1200] += 25.0;
    for x in v.iter_mut().skip(1600) {
        *x += 10.0;
    }
    let a = batch.analyse(&SeriesRef::default(), &ts, &v);
    assert_eq!(near(&a.windows, 1200..1201), [AnomalyKind::Residual], "{:?}", a.windows);
    assert_eq!(near(&a.windows, 1595..1606), [AnomalyKind::Shift], "{:?}", a.windows);
    let r = score_batch(&ts, &v, &BatchConfig::default());
    assert_eq!(r.kinds.len(), v.len());
    assert!(r.kinds.iter().all(Option::is_some));

    // streaming: a kind for every point rarer than 5%, and only for those: none before the
    // warm-up ends, and none for a skipped point
    let mut d = StreamingDetector::default();
    let pts: Vec<_> = ts.iter().zip(&v).map(|(&t, &x)| d.update(t, x)).collect();
    let warmup = StreamConfig::default().warmup as usize;
    assert!(pts[..warmup].iter().all(|p| p.kind.is_none()));
    assert!(pts.iter().all(|p| p.kind.is_some() == (p.p_value < 0.05)));
    assert!(pts.iter().filter(|p| p.score >= 0.22).all(|p| p.kind.is_some()));
    assert!(pts.iter().filter(|p| p.kind.is_some()).count() > 50, "a 5% tail has points on 2,000");
    assert_eq!(d.update(ts[1999], 1.0).kind, None, "a timestamp that does not advance is skipped");
}

#[test]
fn a_replayed_burst_scores_lower_than_its_first_showing() {
    let n = 3000;
    let ts = regular(n, 300_000);
    let mut v: Vec<f64> = noise(n, 23).iter().map(|e| 20.0 + e).collect();
    // a burst at 2000, and at 2200 the sixteen points that ended with it again (a retried job
    // replays the load it drew before)
    for (k, h) in [3.0, 7.0, 5.0].iter().enumerate() {
        v[1998 + k] += h;
    }
    let replay: Vec<f64> = v[1985..2001].to_vec();
    v[2185..2201].copy_from_slice(&replay);
    let scores = |damping: f64| -> Vec<f64> {
        // alarm fatigue off, so the damping is seen alone
        let config = StreamConfig { shape_damping: damping, fatigue_memory: 0.0, ..StreamConfig::default() };
        score_streaming(&ts, &v, &config).iter().map(|p| p.score).collect()
    };
    let (on, off) = (scores(0.8), scores(1.0));
    // the damping changes nothing but the score of familiar shapes, by exactly its factor
    for (i, (a, b)) in on.iter().zip(&off).enumerate() {
        assert!(*a == *b || (*a - 0.8 * b).abs() < 1e-12, "point {i}: {a} vs {b}");
    }
    let peak = |s: &[f64], at: usize| s[at - 3..at + 3].iter().copied().fold(0.0, f64::max);
    assert_eq!(peak(&on, 2000), peak(&off, 2000), "the first showing is news");
    assert!(peak(&off, 2200) >= 0.25, "the replay scores {} undamped", peak(&off, 2200));
    assert!((peak(&on, 2200) - 0.8 * peak(&off, 2200)).abs() < 1e-12, "{} vs {}", peak(&on, 2200), peak(&off, 2200));
}

#[test]
fn a_series_that_keeps_alarming_is_believed_less() {
    let n = 12_000;
    let ts = regular(n, 300_000);
    let mut v: Vec<f64> = noise(n, 29).iter().map(|e| 50.0 + e).collect();
    // a spike every 400 points, each a little different so no shape is replayed, then one far
    // larger spike at the end
    let spikes: Vec<usize> = (1..29).map(|k| 400 * k + 7 * (k % 5)).collect();
    for (k, &at) in spikes.iter().enumerate() {
        v[at] += 9.0 + (k % 4) as f64;
    }
    v[11_700] += 60.0;
    let scores = |memory: f64| -> Vec<f64> {
        let config = StreamConfig { fatigue_memory: memory, ..StreamConfig::default() };
        score_streaming(&ts, &v, &config).iter().map(|p| p.score).collect()
    };
    let (on, off) = (scores(30_000.0), scores(0.0));
    // fatigue only ever lowers a score
    assert!(on.iter().zip(&off).all(|(a, b)| a <= b && *a >= 0.0));
    let first = spikes[0];
    assert_eq!(on[first], off[first], "the first spike is news");
    let late = *spikes.last().unwrap_or(&0);
    assert!(off[late] > 0.34, "the last spike alarms without fatigue ({})", off[late]);
    assert!(on[late] < off[late] - 0.05, "the last spike scores {} with fatigue, {} without", on[late], off[late]);
    // a spike far rarer than the recurring ones still alarms
    assert!(on[11_700] > 0.6, "the large spike scores {}", on[11_700]);
}

#[test]
fn a_bounded_series_grazing_its_bounds_is_not_news() {
    // uniform noise between fixed bounds for 19,000 points, then one value well past them
    let n = 20_000;
    let ts = regular(n, 60_000);
    let mut v = noise(n, 41);
    v[19_000] = 1.5;
    let scores = |margin: f64| -> Vec<f64> {
        let config = StreamConfig { range_margin: margin, ..StreamConfig::default() };
        score_streaming(&ts, &v, &config).iter().map(|p| p.score).collect()
    };
    let (on, off) = (scores(StreamConfig::default().range_margin), scores(0.0));
    let grazes = |s: &[f64]| s.iter().take(19_000).copied().fold(0.0, f64::max);
    let alarm = alarm_level();
    assert!(grazes(&off) > 0.4, "without the margin a graze of the bounds alarms ({})", grazes(&off));
    assert!(grazes(&on) < alarm, "with the margin no graze reaches the alarm level ({})", grazes(&on));
    assert!(on[19_000] > 0.5, "a value well past the bounds is news ({})", on[19_000]);
}
