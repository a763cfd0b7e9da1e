//! SplitMix64: a small, good generator for the bootstrap, cross-validation folds and k-means
//! starts (Steele, Lea & Flood 2014). Seeded explicitly everywhere, so every result is
//! reproducible from its seed.

#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// SplitMix64's increment (the golden ratio in 64 bits): each draw adds it to the state.
    const STEP: u64 = 0x9E37_79B9_7F4A_7C15;

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(Self::STEP);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The generator as it is after `draws` more calls of [`Rng::next_u64`] (or `below`,
    /// `uniform`: one draw each). SplitMix64's state only advances by a constant per draw, so
    /// jumping ahead is one multiplication: independent stretches of one stream (a bootstrap's
    /// replicates) can then be drawn on several threads and give the same numbers as in turn.
    pub fn skipped(&self, draws: u64) -> Rng {
        Rng(self.0.wrapping_add(draws.wrapping_mul(Self::STEP)))
    }

    /// Uniform on 0..n (Lemire's multiply-shift; the bias is below 2⁻³² for n < 2³²).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform on [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// The number of cores this process may use, read once. `std::thread::available_parallelism`
/// reads the cgroup's CPU quota from `/sys/fs/cgroup` on every call (several file reads); the
/// bootstrap and the fits ask it thousands of times per analysis, which cost about 1.4% of the
/// provision-effects run in a profile.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |t| t.get()))
}

/// Reserves room for `n` elements in `v` (empty or not), asking Linux to back the new memory
/// with 2 MB pages when it is large. A fresh 64 MB array (the Cox fit's covariates at 400,000
/// × 20) otherwise costs 16,000 page faults on first touch — a tenth of the fit's time on the
/// benchmark machine — where 2 MB pages cost 32. Only a request (madvise MADV_HUGEPAGE, honoured
/// where transparent huge pages are "madvise" or "always"); memory and results are unchanged.
pub fn reserve_large<T>(v: &mut Vec<T>, n: usize) {
    v.reserve(n.saturating_sub(v.len()));
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes >= 2 * HUGE {
            let start = v.as_mut_ptr() as usize;
            // madvise takes whole pages (4 KB on x86-64; 16 or 64 KB on some ARM kernels): from
            // the first page boundary inside the allocation.
            // SAFETY: sysconf only reads a system constant.
            let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
                .ok()
                .filter(|&p| p.is_power_of_two())
                .unwrap_or(4096);
            let first = start.next_multiple_of(page);
            let len = (start + bytes).saturating_sub(first) / page * page;
            // SAFETY: the range lies inside `v`'s allocation (reserved above), and
            // MADV_HUGEPAGE only changes how the kernel backs it, not its contents or
            // validity; a failure (an older kernel, THP off) leaves ordinary pages.
            unsafe {
                libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
            }
        }
    }
}

/// `n` copies of `value` in memory reserved by [`reserve_large`].
pub fn large_vec<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v = Vec::new();
    reserve_large(&mut v, n);
    v.resize(n, value);
    v
}

/// `n` zeros in memory reserved by [`reserve_large`], not yet touched: a large zeroed
/// allocation comes from the kernel as untouched pages (calloc), so the pages are made — and
/// zeroed — where they are first written, by the threads that fill the array, instead of by
/// one thread writing zeros first (11–16 ms for the Cox fit's 64 MB at 400,000 × 20).
pub fn large_zeros(n: usize) -> Vec<f64> {
    let mut v = vec![0.0; n];
    reserve_large(&mut v, n);
    v
}

/// Runs `f(i)` for i in 0..n on the available cores (at most `max_threads`), each index once;
/// results in index order. Used where the parts are independent and large enough to pay for a
/// thread (split search per feature, k-means starts).
pub fn par_map<T: Send>(n: usize, max_threads: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = cores().min(max_threads).min(n);
    if threads <= 1 {
        return (0..n).map(f).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<(usize, T)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (f, next) = (&f, &next);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break;
                        }
                        mine.push((i, f(i)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

/// How many parts a large sum over rows is split into (information matrices of the logistic
/// and Cox fits). Fixed, not the number of cores: each part is summed in row order and the parts
/// are added in part order, so the sums — and every estimate after them — are the same to the bit
/// on a laptop and on a server with more cores; up to this many cores share the work.
pub const ROW_PARTS: usize = 8;

/// `f` on 0..n split into `parts` consecutive ranges (of n / parts rounded up; the last ones may
/// be shorter or empty), on the available cores ([`par_map`]); results in range order.
pub fn par_ranges<T: Send>(
    n: usize,
    parts: usize,
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let parts = parts.max(1);
    let chunk = n.div_ceil(parts);
    par_map(parts, parts, |t| {
        f((t * chunk).min(n)..((t + 1) * chunk).min(n))
    })
}

/// Fills `out` (rows of `row_len` numbers) by `f(first_row, rows)` on consecutive blocks of
/// rows, one per available core (up to ROW_PARTS) when `out` holds at least `min_len` numbers.
/// Each number depends on its own row only, so the split — unlike a split of a sum — cannot
/// change a bit of the result.
pub fn par_rows_mut<T: Send>(
    out: &mut [T],
    row_len: usize,
    min_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let rows = out.len() / row_len.max(1);
    let threads = cores().min(ROW_PARTS);
    if threads <= 1 || out.len() < min_len {
        f(0, out);
        return;
    }
    let per = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        for (t, block) in out.chunks_mut(per * row_len).enumerate() {
            let f = &f;
            scope.spawn(move || f(t * per, block));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn skipping_ahead_gives_the_same_draws_as_drawing_in_turn() {
        let start = Rng(0x1234_5678_9ABC_DEF0);
        let mut in_turn = start.clone();
        let drawn: Vec<u64> = (0..1000).map(|_| in_turn.below(7400)).collect();
        for k in [0usize, 1, 399, 999] {
            let mut jumped = start.skipped(k as u64);
            assert_eq!(jumped.below(7400), drawn[k], "draw {k}");
        }
        // Past the end of the stretch drawn above: the state after it.
        assert_eq!(start.skipped(1000).0, in_turn.0);
    }

    #[test]
    fn ranges_cover_every_index_once_in_order() {
        for (n, parts) in [(0, 8), (1, 8), (10, 8), (16, 8), (17, 8), (1000, 3), (5, 1)] {
            let ranges = super::par_ranges(n, parts, |r| r);
            assert_eq!(ranges.len(), parts);
            let flat: Vec<usize> = ranges.into_iter().flatten().collect();
            assert_eq!(flat, (0..n).collect::<Vec<_>>(), "n {n}, parts {parts}");
        }
    }
}
