//! Sorting samples of doubles: a bucket pass over order-preserving integer keys, the range of
//! the keys cut into about `n / 2` buckets, each finished by a comparison sort (a few values)
//! or by another bucket pass (many values, as when one outlier stretches the range). Two or
//! three passes over the data instead of a radix sort's seven or eight, or a comparison sort's
//! `log n`.

/// Samples at or below this size go straight to a comparison sort.
const SMALL: usize = 32;

/// Bucket passes before a bucket is handed to the comparison sort whatever its size (each pass
/// splits the key range by at least a factor of 2^4, so only values packed into a few ulps
/// get there).
const MAX_DEPTH: u32 = 8;

/// The key of a double whose unsigned order is the total order of doubles (`f64::total_cmp`):
/// negatives reversed below the positives.
fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// Memory a sort works in, kept between sorts: fresh buffers for every sample cost more in
/// page faults than the sort itself.
#[derive(Debug, Default)]
pub(crate) struct SortBuffers {
    scratch: Vec<f64>,
    starts: Vec<u32>,
    next: Vec<u32>,
}

/// Sorts `values` ascending in the total order of doubles (`f64::total_cmp`: `-0.0` before
/// `0.0`, NaNs at the ends by sign). The judge's samples are finite.
pub(crate) fn sort_floats(values: &mut [f64], buffers: &mut SortBuffers) {
    // no need to clear what is kept: a bucket pass writes every slot before reading it
    buffers.scratch.truncate(values.len());
    buffers.scratch.resize(values.len(), 0.0);
    sort_into(values, &mut buffers.scratch, (&mut buffers.starts, &mut buffers.next), 0);
}

/// One bucket pass over `values` through `scratch` (of the same length), with `starts` and
/// `next` for the bucket bounds, then each bucket (with buffers of its own, as they are few).
fn sort_into(values: &mut [f64], scratch: &mut [f64], (starts, next): (&mut Vec<u32>, &mut Vec<u32>), depth: u32) {
    let n = values.len();
    if n <= SMALL || depth >= MAX_DEPTH {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    let (lo, hi) = values.iter().fold((u64::MAX, 0), |(lo, hi), &x| (lo.min(key(x)), hi.max(key(x))));
    let range = hi - lo;
    if range == 0 {
        return;
    }
    // about n / 2 buckets, at least 16
    let bits = (usize::BITS - n.leading_zeros()).saturating_sub(1).max(4);
    let shift = (u64::BITS - range.leading_zeros()).saturating_sub(bits);
    let buckets = usize::try_from(range >> shift).unwrap_or(usize::MAX).saturating_add(1);
    let bucket = |x: f64| usize::try_from((key(x) - lo) >> shift).unwrap_or(0);
    // starts[b] = values in buckets before b
    starts.clear();
    starts.resize(buckets + 1, 0);
    for &x in values.iter() {
        if let Some(c) = starts.get_mut(bucket(x) + 1) {
            *c += 1;
        }
    }
    let mut total = 0;
    for c in starts.iter_mut() {
        total += *c;
        *c = total;
    }
    next.clear();
    next.extend_from_slice(starts);
    for &x in values.iter() {
        if let Some(at) = next.get_mut(bucket(x)) {
            if let Some(slot) = scratch.get_mut(*at as usize) {
                *slot = x;
            }
            *at += 1;
        }
    }
    let largest = starts.windows(2).map(|w| if let [a, b] = *w { b - a } else { 0 }).max().unwrap_or(0);
    if largest as usize <= SPREAD {
        // every value sits in its own small bucket: one insertion pass over the whole finishes
        // the order, moving each value only within its bucket
        insertion_sort(scratch);
        values.copy_from_slice(scratch);
        return;
    }
    values.copy_from_slice(scratch);
    for pair in starts.windows(2) {
        let (from, to) = match *pair {
            [a, b] => (a as usize, b as usize),
            _ => continue,
        };
        if let (Some(bucket), Some(space)) = (values.get_mut(from..to), scratch.get_mut(from..to))
            && bucket.len() > 1
        {
            if bucket.len() <= SPREAD {
                insertion_sort(bucket);
            } else {
                sort_into(bucket, space, (&mut Vec::new(), &mut Vec::new()), depth + 1);
            }
        }
    }
}

/// Buckets up to this size are finished by insertion.
const SPREAD: usize = 16;

/// Insertion sort, for values that are nearly in order (each a few places from its own).
fn insertion_sort(values: &mut [f64]) {
    let mut prev = values.first().copied().unwrap_or(0.0);
    for i in 1..values.len() {
        let Some(&x) = values.get(i) else { break };
        if prev.total_cmp(&x).is_gt() {
            // shift the larger values before it up by one, then drop it in
            let mut j = i;
            while let Some(&p) = values.get(j.wrapping_sub(1)) {
                if p.total_cmp(&x).is_le() {
                    break;
                }
                if let Some(slot) = values.get_mut(j) {
                    *slot = p;
                }
                j -= 1;
            }
            if let Some(slot) = values.get_mut(j) {
                *slot = x;
            }
        } else {
            prev = x;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy as _;

    use super::*;

    proptest::proptest! {
        /// The same order as the standard library's sort by `total_cmp`, on samples with
        /// duplicates, negatives, zeros of both signs, outliers and infinities.
        #[test]
        fn sorts_as_the_standard_library(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    -1e3f64..1e3,
                    (0i32..20).prop_map(f64::from),
                    proptest::sample::select(vec![0.0, -0.0, 1e300, -1e300, f64::INFINITY, f64::NEG_INFINITY, 1e-300]),
                ],
                0..600,
            ),
        ) {
            // buffers that already sorted another, longer sample: what they keep must not leak in
            let mut buffers = SortBuffers::default();
            let mut other: Vec<f64> = values.iter().rev().map(|x| x * 3.0 + 1.0).chain([5.0; 40]).collect();
            sort_floats(&mut other, &mut buffers);
            let mut ours = values.clone();
            sort_floats(&mut ours, &mut buffers);
            let mut std = values;
            std.sort_unstable_by(f64::total_cmp);
            proptest::prop_assert_eq!(ours.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), std.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn keys_follow_the_total_order() {
        let ordered = [f64::NEG_INFINITY, -1e300, -1.0, -1e-300, -0.0, 0.0, 1e-300, 1.0, 1e300, f64::INFINITY];
        for pair in ordered.windows(2) {
            if let [a, b] = *pair {
                assert!(key(a) < key(b), "{a} {b}");
            }
        }
    }

    #[test]
    fn a_packed_sample_with_one_outlier_sorts() {
        let mut v: Vec<f64> = (0..5000).map(|i| 1.0 + f64::from((i * 7919) % 5000) * 1e-12).collect();
        v.push(1e12);
        let mut std = v.clone();
        std.sort_unstable_by(f64::total_cmp);
        sort_floats(&mut v, &mut SortBuffers::default());
        assert_eq!(v, std);
    }
}
