//! Sorting samples of doubles: the doubles turned once into order-preserving integer keys, a
//! bucket pass over the keys (their range cut into about as many buckets as there are values),
//! each bucket finished by insertion (a few keys) or by another bucket pass (many, as when one
//! outlier stretches the range), and the keys turned back. Integer keys compare in one
//! instruction, where doubles in the total order take several; two or three passes over the
//! data instead of a radix sort's seven or eight, or a comparison sort's `log n`.

/// Samples at or below this size go straight to a comparison sort.
const SMALL: usize = 32;

/// Bucket passes before a bucket is handed to the comparison sort whatever its size (each pass
/// splits the key range by at least a factor of 2^4, so only values packed into a few ulps
/// get there).
const MAX_DEPTH: u32 = 8;

/// Buckets up to this size are finished by insertion.
const SPREAD: usize = 16;

/// The key of a double whose unsigned order is the total order of doubles (`f64::total_cmp`):
/// negatives reversed below the positives.
fn key(x: f64) -> u64 {
    let bits = x.to_bits();
    if bits >> 63 == 1 { !bits } else { bits | 1 << 63 }
}

/// The double whose [`key`] is `k`.
fn from_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// Memory a sort works in, kept between sorts: fresh buffers for every sample cost more in
/// page faults than the sort itself.
#[derive(Debug, Default)]
pub(crate) struct SortBuffers {
    keys: Vec<u64>,
    scratch: Vec<u64>,
    ends: Vec<u32>,
}

/// Sorts `values` ascending in the total order of doubles (`f64::total_cmp`: `-0.0` before
/// `0.0`, NaNs at the ends by sign). The judge's samples are finite.
pub(crate) fn sort_floats(values: &mut [f64], buffers: &mut SortBuffers) {
    if values.len() <= SMALL {
        values.sort_unstable_by(f64::total_cmp);
        return;
    }
    let (lo, hi, _) = fill_keys(values, &mut buffers.keys);
    sort_filled(lo, hi, buffers);
    for (v, &k) in values.iter_mut().zip(buffers.keys.iter()) {
        *v = from_key(k);
    }
}

/// Writes `src` sorted ascending into `out` when every value of it is finite, and returns
/// whether it was (`out` is left empty when not). The finiteness check, the keys and their
/// range are taken from `src` itself (in the judge it comes cold from memory), not from a copy.
pub(crate) fn sort_finite_into(src: &[f64], out: &mut Vec<f64>, buffers: &mut SortBuffers) -> bool {
    out.clear();
    if src.len() <= SMALL {
        if !src.iter().all(|x| x.is_finite()) {
            return false;
        }
        out.extend_from_slice(src);
        out.sort_unstable_by(f64::total_cmp);
        return true;
    }
    let (lo, hi, finite) = fill_keys(src, &mut buffers.keys);
    if !finite {
        return false;
    }
    sort_filled(lo, hi, buffers);
    out.extend(buffers.keys.iter().map(|&k| from_key(k)));
    true
}

/// Fills `keys` with the [`key`]s of `values`; returns bounds on the keys (the smallest and
/// largest, or a little wider) and whether every value is finite.
///
/// The keys are a plain map and the bounds come from the doubles' own minimum and maximum,
/// taken in four lanes: both loops run in vector instructions, where the keys' minimum and
/// maximum, taken along with them, cost a chain of scalar compares per value.
fn fill_keys(values: &[f64], keys: &mut Vec<u64>) -> (u64, u64, bool) {
    keys.clear();
    if values.is_empty() {
        return (0, 0, true);
    }
    keys.extend(values.iter().map(|&x| key(x)));
    // `x * 0` is 0 for a finite `x` and NaN for an infinity or a NaN, which the sum keeps
    let (mut lo, mut hi, mut zero) = ([f64::INFINITY; 4], [f64::NEG_INFINITY; 4], [0.0; 4]);
    let mut chunks = values.chunks_exact(4);
    for chunk in &mut chunks {
        for (((&x, lo), hi), zero) in chunk.iter().zip(&mut lo).zip(&mut hi).zip(&mut zero) {
            *lo = if x < *lo { x } else { *lo };
            *hi = if x > *hi { x } else { *hi };
            *zero += x * 0.0;
        }
    }
    for &x in chunks.remainder() {
        lo[0] = lo[0].min(x);
        hi[0] = hi[0].max(x);
        zero[0] += x * 0.0;
    }
    if zero.iter().any(|&z| z != 0.0) {
        // NaNs sort to the ends, outside the doubles' minimum and maximum
        let (lo, hi) = keys.iter().fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
        return (lo, hi, false);
    }
    let (lo, hi) = (lo[0].min(lo[1]).min(lo[2].min(lo[3])), hi[0].max(hi[1]).max(hi[2].max(hi[3])));
    // the doubles compare -0.0 equal to 0.0, where their keys differ: widen to both
    let lo_key = if lo == 0.0 { key(-0.0) } else { key(lo) };
    let hi_key = if hi == 0.0 { key(0.0) } else { key(hi) };
    (lo_key, hi_key, true)
}

/// Sorts the keys [`fill_keys`] left in `buffers`, given their range.
fn sort_filled(lo: u64, hi: u64, buffers: &mut SortBuffers) {
    let SortBuffers { keys, scratch, ends } = buffers;
    // no need to clear what is kept: a bucket pass writes every slot before reading it
    scratch.resize(keys.len(), 0);
    let scratch = scratch.get_mut(..keys.len()).unwrap_or_default();
    sort_keys_in_range(keys, scratch, ends, 0, lo, hi);
}

/// Sorts `keys` with one bucket pass through `scratch` (of the same length), `ends` holding
/// the buckets' bounds, then each bucket (with bounds of its own, as they are few).
fn sort_keys(keys: &mut [u64], scratch: &mut [u64], ends: &mut Vec<u32>, depth: u32) {
    let (lo, hi) = keys.iter().fold((u64::MAX, 0), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    sort_keys_in_range(keys, scratch, ends, depth, lo, hi);
}

/// [`sort_keys`] for keys known to lie in `lo..=hi`.
fn sort_keys_in_range(keys: &mut [u64], scratch: &mut [u64], ends: &mut Vec<u32>, depth: u32, lo: u64, hi: u64) {
    let n = keys.len();
    if n <= SMALL || depth >= MAX_DEPTH {
        keys.sort_unstable();
        return;
    }
    let range = hi - lo;
    if range == 0 {
        return;
    }
    // between n and 2n buckets, at least 32: few values share one
    let bits = (usize::BITS - n.leading_zeros()).max(5);
    let shift = (u64::BITS - range.leading_zeros()).saturating_sub(bits);
    let buckets = usize::try_from(range >> shift).unwrap_or(usize::MAX).saturating_add(1);
    let bucket = |k: u64| usize::try_from((k - lo) >> shift).unwrap_or(0);
    // ends[b + 1] = keys in bucket b, then the keys in the buckets before b + 1
    ends.clear();
    ends.resize(buckets + 1, 0);
    for &k in keys.iter() {
        if let Some(c) = ends.get_mut(bucket(k) + 1) {
            *c += 1;
        }
    }
    let (mut total, mut largest) = (0, 0);
    for c in ends.iter_mut() {
        largest = largest.max(*c);
        total += *c;
        *c = total;
    }
    // ends[b] is where bucket b starts; after the scatter, where it ends
    for &k in keys.iter() {
        if let Some(at) = ends.get_mut(bucket(k)) {
            if let Some(slot) = scratch.get_mut(*at as usize) {
                *slot = k;
            }
            *at += 1;
        }
    }
    if largest as usize <= SPREAD {
        // every key sits in a small bucket: one insertion pass over the whole, back into
        // `keys`, finishes the order, moving each key only within its bucket
        insertion_sort_into(scratch, keys);
        return;
    }
    keys.copy_from_slice(scratch);
    let mut from = 0;
    for &end in ends.iter().take(buckets) {
        let to = end as usize;
        if let (Some(bucket), Some(space)) = (keys.get_mut(from..to), scratch.get_mut(from..to))
            && bucket.len() > 1
        {
            if bucket.len() <= SPREAD {
                bucket.sort_unstable();
            } else {
                sort_keys(bucket, space, &mut Vec::new(), depth + 1);
            }
        }
        from = to;
    }
}

/// Insertion sort of `src` into `dst` (of the same length), for keys that are nearly in order
/// (each a few places from its own).
///
/// Most keys move zero, one or two places. Which of those is close to a coin toss, so a branch
/// on it would be mispredicted often: the two keys before each are compared and moved with
/// selects instead, and only a key that goes further takes the loop.
fn insertion_sort_into(src: &[u64], dst: &mut [u64]) {
    for (i, &k) in src.iter().enumerate() {
        let last_two = i.checked_sub(2).and_then(|from| dst.get_mut(from..=i));
        let Some([before, last, slot]) = last_two.and_then(|w| <&mut [u64; 3]>::try_from(w).ok()) else {
            shift_in(dst, i, k);
            continue;
        };
        let (x, y) = (*before, *last);
        let (one, two) = (y > k, x > k);
        // `select_unpredictable`: the compiler would otherwise turn the selects back into branches
        *slot = std::hint::select_unpredictable(one, y, k);
        *last = std::hint::select_unpredictable(two, x, std::hint::select_unpredictable(one, k, y));
        if two {
            shift_in(dst, i - 2, k);
        }
    }
}

/// Moves the keys before `at` that are larger than `k` up one place, and puts `k` in the gap.
fn shift_in(dst: &mut [u64], mut at: usize, k: u64) {
    while let Some(&p) = dst.get(at.wrapping_sub(1)) {
        if p <= k {
            break;
        }
        if let Some(slot) = dst.get_mut(at) {
            *slot = p;
        }
        at -= 1;
    }
    if let Some(slot) = dst.get_mut(at) {
        *slot = k;
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy as _;

    use super::*;

    proptest::proptest! {
        /// The same order as the standard library's sort by `total_cmp`, on samples with
        /// duplicates, negatives, zeros of both signs, outliers, infinities and NaNs.
        #[test]
        fn sorts_as_the_standard_library(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    -1e3f64..1e3,
                    (0i32..20).prop_map(f64::from),
                    proptest::sample::select(vec![0.0, -0.0, 1e300, -1e300, f64::INFINITY, f64::NEG_INFINITY, 1e-300, f64::NAN, -f64::NAN]),
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
            // the sort from a source, which refuses a sample with an infinity
            let mut into = vec![9.0; 3];
            let finite = sort_finite_into(&values, &mut into, &mut buffers);
            proptest::prop_assert_eq!(finite, values.iter().all(|x| x.is_finite()));
            let mut std = values;
            std.sort_unstable_by(f64::total_cmp);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(bits(&ours), bits(&std));
            proptest::prop_assert_eq!(bits(&into), if finite { bits(&std) } else { Vec::new() });
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
    fn keys_turn_back_into_the_same_doubles() {
        for x in [f64::NAN, -f64::NAN, f64::NEG_INFINITY, -1.5, -0.0, 0.0, f64::MIN_POSITIVE / 2.0, 3.25, f64::MAX] {
            assert_eq!(from_key(key(x)).to_bits(), x.to_bits(), "{x}");
        }
    }

    /// Zeros of both signs at the bottom (or top) of a sample, in either order within the
    /// four lanes the bounds are taken in: the bounds on the keys must still hold both.
    #[test]
    fn signed_zeros_at_either_end_sort() {
        let mut buffers = SortBuffers::default();
        for sign in [1.0, -1.0] {
            for first in [0.0, -0.0] {
                for gap in 1..6 {
                    let mut v: Vec<f64> = (1..100).map(|i| sign * f64::from(i)).collect();
                    v.insert(0, first);
                    v.insert(gap, -first);
                    let mut std = v.clone();
                    std.sort_unstable_by(f64::total_cmp);
                    let mut out = Vec::new();
                    assert!(sort_finite_into(&v, &mut out, &mut buffers));
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(bits(&out), bits(&std), "sign {sign}, {first} first, then {} at {gap}", -first);
                }
            }
        }
    }

    /// Keys shuffled within blocks of up to six: every key moves zero to five places, through
    /// the selects (up to two) and the loop (more).
    #[test]
    fn insertion_moves_keys_any_distance() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for block in 1..=6u64 {
            let mut src: Vec<u64> = (0..600).map(|i| i / 2).collect();
            for chunk in src.chunks_mut(block as usize) {
                chunk.reverse();
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                chunk.rotate_left((state % block) as usize);
            }
            let mut dst = vec![0; src.len()];
            insertion_sort_into(&src, &mut dst);
            let mut want = src;
            want.sort_unstable();
            assert_eq!(dst, want, "blocks of {block}");
        }
    }

    #[test]
    fn a_nan_anywhere_is_refused() {
        let mut buffers = SortBuffers::default();
        let mut out = Vec::new();
        for n in [5, 100] {
            for at in [0, n / 2, n - 1] {
                let mut v: Vec<f64> = (0..n).map(|i| f64::from(i as u32)).collect();
                if let Some(x) = v.get_mut(at) {
                    *x = f64::NAN;
                }
                assert!(!sort_finite_into(&v, &mut out, &mut buffers), "NaN at {at} of {n}");
                assert!(out.is_empty());
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
