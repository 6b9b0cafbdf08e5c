//! The skewed customer choice the mention and contact generators share.

use super::enc::h3;

/// Skewed customer choice shared by the mention and contact generators, so
/// that the customers who post most also call most: with `u` uniform in
/// `[0, 1)`, rank `⌊n·u²⌋` is mapped through a fixed seed-dependent
/// permutation of `0..n` (the top 1 % of customers get about a tenth of the
/// picks, and the busiest ones are scattered over the customer range).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Skew {
    n: u64,
    mult: u64,
    off: u64,
}

impl Skew {
    /// A skewed picker over customers `0..customers` for `seed`.
    pub(crate) fn new(seed: u64, customers: usize) -> Self {
        let n = customers.max(1) as u64;
        fn gcd(mut a: u64, mut b: u64) -> u64 {
            while b != 0 {
                (a, b) = (b, a % b);
            }
            a
        }
        // A multiplier near n/φ and coprime with n permutes 0..n and spreads
        // neighbouring ranks far apart.
        let mut mult = ((n as f64 * 0.618_033_988_75) as u64).max(1);
        while gcd(mult, n) != 1 {
            mult += 1;
        }
        Self {
            n,
            mult,
            off: h3(seed, 0, 0x21FF) % n,
        }
    }

    /// The customer index for a uniform `u` in `[0, 1)`.
    pub(crate) fn pick(&self, u: f64) -> usize {
        let rank = ((self.n as f64 * u * u) as u64).min(self.n - 1);
        ((rank as u128 * self.mult as u128 + self.off as u128) % self.n as u128) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::Skew;

    #[test]
    fn skew_is_a_permutation_of_ranks_and_skewed() {
        for n in [1usize, 2, 7, 1_000, 4_096] {
            let s = Skew::new(9, n);
            let mut seen = vec![false; n];
            for r in 0..n {
                let u = ((r as f64 + 0.5) / n as f64).sqrt();
                let i = s.pick(u);
                assert!(!seen[i], "n={n} r={r}");
                seen[i] = true;
            }
        }
        let s = Skew::new(9, 100_000);
        let mut counts = std::collections::HashMap::new();
        let mut rng = crate::generate::enc::Rng::new(1);
        for _ in 0..100_000 {
            *counts.entry(s.pick(rng.f64())).or_insert(0u32) += 1;
        }
        let mut c: Vec<u32> = counts.into_values().collect();
        c.sort_unstable_by(|a, b| b.cmp(a));
        let top1: u32 = c.iter().take(1_000).sum();
        assert!((8_000..12_000).contains(&top1), "{top1}");
        assert!(c[0] < 1_000, "{}", c[0]);
    }
}
