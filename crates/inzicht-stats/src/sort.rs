//! Sorting keys in linear time: a stable LSD radix sort of (key, payload) pairs, and the order
//! key that sorts floating-point numbers as numbers. Used for the Cox fit's walk order and its
//! concordance (order of η), and for the provision-effects panel's (spell, month) order.

/// A key whose unsigned order is the numeric order of finite numbers (−0 and +0 equal).
pub fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// The indices 0..n ordered by `keys` ascending, equal keys in index order.
pub fn radix_order(keys: &[u64]) -> Vec<usize> {
    radix_sort(keys.iter().copied().zip(0..keys.len() as u64).collect())
        .into_iter()
        .map(|(_, i)| i as usize)
        .collect()
}

/// (key, payload) pairs ordered by key ascending, equal keys in their given order: a stable LSD
/// radix sort, O(n) per digit instead of a comparison sort's O(n log n). Only the span of bits
/// in which the keys differ is sorted, in as few digits of at most 11 bits as cover it (2,048
/// counters stay in a core's cache): event times are often whole days or months, so their keys
/// differ in one or two digits. The keys of a continuous η differ in all 64 bits: of a span
/// wider than three digits only the top 33 bits are sorted by digits, and the runs of keys that
/// agree in those bits — a few keys each, for 400,000 values of η — are then sorted by their
/// whole key (stably) in one scan: three passes over the data instead of six. Large inputs are
/// split into one part per core: each part writes its elements from its own first position in
/// every bucket (the parts before it, then its own order), so the result is the same with any
/// number of parts. The first digit's counts per part come from one read of the keys (which also
/// finds the digits that are the same in every key); each pass then counts the next digit of
/// every key it writes, by the part its new position falls in, so that no pass reads the keys
/// only to count them. Carrying a payload lets the caller read its data in key order without an
/// index's scattered reads.
pub fn radix_sort(cur: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    // At most ROW_PARTS: each pass counts the next digit per (writing part, target part), so
    // its counters and their serial sum grow with the square of the parts.
    let parts = if cur.len() >= RADIX_PARALLEL_MIN {
        crate::rng::cores().min(crate::rng::ROW_PARTS)
    } else {
        1
    };
    radix_sort_in_parts(cur, parts)
}

/// [`radix_sort`] with each pass split into `parts` parts (the same result for any number).
fn radix_sort_in_parts(mut cur: Vec<(u64, u64)>, parts: usize) -> Vec<(u64, u64)> {
    const MAX_BITS: u32 = 11;
    const MAX_DIGITS: u32 = 3;
    let n = cur.len();
    let first = cur.first().map_or(0, |&(k, _)| k);
    let differ = cur.iter().fold(0, |acc, &(k, _)| acc | (k ^ first));
    if n < 64 || differ == 0 {
        cur.sort_by_key(|&(k, _)| k);
        return cur;
    }
    let top = 64 - differ.leading_zeros();
    // The bits below `low` are the same in every key, or (in a wide span) left to the last scan.
    let low = differ
        .trailing_zeros()
        .max(top.saturating_sub(MAX_DIGITS * MAX_BITS));
    let span = top - low;
    let digits = span.div_ceil(MAX_BITS);
    let bits = span.div_ceil(digits);
    let mask = (1u64 << bits) - 1;
    let width = 1usize << bits;
    let parts = parts.max(1);
    let chunk = n.div_ceil(parts);
    let mut next = crate::rng::large_vec(n, (0u64, 0u64));
    let digit = move |k: u64, d: u32| ((k >> (low + d * bits)) & mask) as usize;
    // Per part, the counts of every digit (digit d's at d·width), in one read of the keys: they
    // show which digits are the same in every key (skipped), and give the first sorted digit's
    // counts per part.
    let counts = crate::rng::par_map(parts, parts, |part| {
        let mut c = vec![0usize; digits as usize * width];
        for &(k, _) in cur.chunks(chunk).nth(part).unwrap_or(&[]) {
            for d in 0..digits {
                c[d as usize * width + digit(k, d)] += 1;
            }
        }
        c
    });
    let sorted: Vec<u32> = (0..digits)
        .filter(|&d| {
            let range = d as usize * width..(d as usize + 1) * width;
            !range
                .clone()
                .any(|b| counts.iter().map(|c| c[b]).sum::<usize>() == n)
        })
        .collect();
    // Per part, the counts of the digit about to be sorted. After the first pass the parts hold
    // other keys, so each pass counts the next sorted digit of every key it writes, by the part
    // its new position falls in (each thread its own counters, added up after the pass).
    let mut part_counts: Vec<Vec<usize>> = match sorted.first() {
        Some(&d) => counts
            .iter()
            .map(|c| c[d as usize * width..(d as usize + 1) * width].to_vec())
            .collect(),
        None => Vec::new(),
    };
    drop(counts);
    for (step, &d) in sorted.iter().enumerate() {
        let following = sorted.get(step + 1).copied();
        // Each part's first position in each bucket, and the end of its range there: the ranges
        // of all parts and buckets tile 0..n without overlap whatever the counts are, and each
        // write below is checked to stay inside its own range, so no two threads can write the
        // same element even if a count were wrong (the sort would then stop, not race).
        let mut at = 0;
        let mut ends: Vec<Vec<usize>> = vec![vec![0; width]; part_counts.len()];
        for b in 0..width {
            for (c, end) in part_counts.iter_mut().zip(ends.iter_mut()) {
                let here = c[b];
                c[b] = at;
                at += here;
                end[b] = at;
            }
        }
        assert_eq!(at, n, "radix sort: the digit counts do not cover the keys");
        let out = Scatter(next.as_mut_ptr());
        let out = &out;
        let work = |part: &[(u64, u64)], mut first: Vec<usize>, end: &[usize]| -> Vec<usize> {
            let mut next_counts = vec![
                0usize;
                if following.is_some() {
                    parts * width
                } else {
                    0
                }
            ];
            for &(k, v) in part {
                let b = digit(k, d);
                let pos = first[b];
                assert!(pos < end[b], "radix sort: a bucket overflows its range");
                // SAFETY: pos lies in this part's own range of bucket b (checked just above);
                // the ranges of all parts and buckets are disjoint and inside 0..n (made from
                // one running sum that ends at n), so every write is in bounds and no two
                // writes, in any thread, go to the same element.
                unsafe { out.0.add(pos).write((k, v)) };
                first[b] += 1;
                if let Some(f) = following {
                    next_counts[(pos / chunk) * width + digit(k, f)] += 1;
                }
            }
            next_counts
        };
        let work = &work;
        let counted: Vec<Vec<usize>> = std::thread::scope(|scope| {
            if parts == 1 {
                return vec![work(&cur, std::mem::take(&mut part_counts[0]), &ends[0])];
            }
            let handles: Vec<_> = cur
                .chunks(chunk)
                .zip(part_counts.iter_mut())
                .zip(&ends)
                .map(|((part, c), end)| {
                    let first = std::mem::take(c);
                    scope.spawn(move || work(part, first, end))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        if following.is_some() {
            // The next pass's counts per part: Σ over the threads that wrote into it.
            let n_parts = cur.chunks(chunk).count();
            part_counts = (0..n_parts)
                .map(|part| {
                    (0..width)
                        .map(|b| counted.iter().map(|c| c[part * width + b]).sum())
                        .collect()
                })
                .collect();
        }
        std::mem::swap(&mut cur, &mut next);
    }
    if low > differ.trailing_zeros() {
        // Runs that agree in the sorted bits, by their whole key; a stable sort keeps equal
        // keys in their given order (the digit passes kept it within each run).
        let mut a = 0;
        while a < n {
            let mut b = a + 1;
            while b < n && cur[b].0 >> low == cur[a].0 >> low {
                b += 1;
            }
            if b - a > 1 {
                cur[a..b].sort_by_key(|&(k, _)| k);
            }
            a = b;
        }
    }
    cur
}

/// Sort at least this many keys on more than one core.
const RADIX_PARALLEL_MIN: usize = 100_000;

/// The output of a radix pass, written by several threads at disjoint positions.
struct Scatter(*mut (u64, u64));
// SAFETY: the threads that share it write disjoint elements (see `radix_sort`), and the scoped
// threads end before the vector it points into is read or moved.
unsafe impl Sync for Scatter {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_sort_is_stable_in_any_number_of_parts() {
        let mut state = 11u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state
        };
        for n in [64usize, 65, 1000, 5000] {
            for shape in 0..6 {
                let keys: Vec<u64> = (0..n)
                    .map(|_| match shape {
                        0 => next(),
                        1 => next() % 7,
                        2 => (next() % 3) << 63,
                        3 => order_key(((next() % 1000) as f64 - 500.0) / 8.0),
                        // Wider than three digits, with runs that agree in the top 33 bits of
                        // the span and equal keys within them (the last scan's stable sort).
                        4 => ((next() % 50) << 40) | (next() % 64),
                        _ => {
                            let u = (next() >> 11) as f64 / (1u64 << 53) as f64;
                            order_key(if next() % 10 == 0 {
                                0.25
                            } else {
                                (u - 0.5) * 6.0
                            })
                        }
                    })
                    .collect();
                let mut expected: Vec<usize> = (0..n).collect();
                expected.sort_by_key(|&i| keys[i]);
                for parts in [1, 2, 3, 8] {
                    let got: Vec<usize> =
                        radix_sort_in_parts(keys.iter().copied().zip(0..n as u64).collect(), parts)
                            .into_iter()
                            .map(|(_, i)| i as usize)
                            .collect();
                    assert_eq!(got, expected, "n {n}, shape {shape}, {parts} parts");
                }
            }
        }
    }
}
