//! Products of ball matrices through a fast f64 matrix-multiply kernel (`gemm`, the
//! kernel of `faer`, BLIS-style with SIMD microkernels): the midpoints by one product, the radii by two
//! products of non-negative matrices, and an a-priori bound on the rounding of every product
//! that holds whatever order of operations the kernel uses (Rump, "Fast and parallel interval
//! arithmetic", BIT 39, 1999; midpoint-radius form). Proof: `proofs/fast-interval.md`, section
//! "Matrix products (`arith::gemm`)".
//!
//! The per-entry ball loops of `model::ball_vec` bound each rounding by the size of its own
//! partial result; this bound is `gamma_k sum |a||b|` for the whole sum, up to about `sqrt(k)`
//! times larger for sums with cancellation, but every flop runs in the optimised kernel.

/// A matrix of balls: entry `(i, j)` is `mid[i rs + j cs] +- rad[i rs + j cs]`.
#[derive(Clone, Copy)]
pub struct BallMatrix<'a> {
    pub mid: &'a [f64],
    pub rad: &'a [f64],
    pub rows: usize,
    pub cols: usize,
    /// Row and column strides (in entries, non-negative).
    pub rs: usize,
    pub cs: usize,
}

/// The same, mutable.
pub struct BallMatrixMut<'a> {
    pub mid: &'a mut [f64],
    pub rad: &'a mut [f64],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

/// The smallest positive subnormal, `2^-1074`.
const ETA: f64 = f64::from_bits(1);
/// The unit roundoff `u = 2^-53`.
const UNIT: f64 = 1.0 / 9_007_199_254_740_992.0;

/// An upper bound of `gamma_n = n u / (1 - n u)` (requires `n u < 1/2`): `2 n u`, exact in f64
/// for the `n` used here (`n < 2^50`).
fn gamma_upper(n: usize) -> f64 {
    2.0 * (n as f64) * UNIT
}

/// Largest index used by a `rows x cols` matrix with strides `rs`, `cs`, plus one (0 if empty).
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// Whether every entry of `x` has radius zero.
fn is_exact(x: &BallMatrix) -> bool {
    let dense = x.rad.len() == x.rows * x.cols && ((x.cs == 1 && x.rs == x.cols) || (x.rs == 1 && x.cs == x.rows));
    if dense {
        return x.rad.iter().all(|&r| r == 0.0);
    }
    (0..x.rows).all(|i| (0..x.cols).all(|l| x.rad[i * x.rs + l * x.cs] == 0.0))
}

/// `out[(row0 + i) out_rs + l] = f(mid, rad)` of entry `(i, l)` of `x`, reading `x` in the order
/// of its storage (the operands come row- and column-major).
fn fill(x: &BallMatrix, out: &mut [f64], out_rs: usize, row0: usize, f: impl Fn(f64, f64) -> f64) {
    let at = |i: usize, l: usize| i * x.rs + l * x.cs;
    if x.cs <= x.rs {
        for i in 0..x.rows {
            let row = &mut out[(row0 + i) * out_rs..(row0 + i) * out_rs + x.cols];
            for (l, o) in row.iter_mut().enumerate() {
                *o = f(x.mid[at(i, l)], x.rad[at(i, l)]);
            }
        }
    } else {
        for l in 0..x.cols {
            for i in 0..x.rows {
                out[(row0 + i) * out_rs + l] = f(x.mid[at(i, l)], x.rad[at(i, l)]);
            }
        }
    }
}

/// `c <- c + a b` (`a` is `m x k`, `b` is `k x n`, `c` is `m x n`): afterwards every entry of
/// `c` contains `c_old + sum_l a_l b_l` for every choice of real numbers in the old balls of
/// `c` and in the balls of `a` and `b` (Lemma G of the proof). Non-finite results get an
/// infinite radius (the whole line). Panics if the shapes or strides do not fit the slices
/// (a caller's bug, never data-dependent).
pub fn ball_gemm_acc(a: BallMatrix, b: BallMatrix, c: BallMatrixMut) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(b.rows == k && c.rows == m && c.cols == n, "ball_gemm_acc: shapes");
    assert!(a.mid.len() >= extent(m, k, a.rs, a.cs) && a.rad.len() >= extent(m, k, a.rs, a.cs), "ball_gemm_acc: a");
    assert!(b.mid.len() >= extent(k, n, b.rs, b.cs) && b.rad.len() >= extent(k, n, b.rs, b.cs), "ball_gemm_acc: b");
    assert!(c.mid.len() >= extent(m, n, c.rs, c.cs) && c.rad.len() >= extent(m, n, c.rs, c.cs), "ball_gemm_acc: c");
    assert!((c.cs == 1 && c.rs >= n) || (c.rs == 1 && c.cs >= m), "ball_gemm_acc: c must be row- or column-major without aliasing");
    if m == 0 || n == 0 {
        return;
    }
    let gamma = gamma_upper(k + 1);
    // (1) The radii's old part, before the midpoints change: c.rad + gamma_{k+1} |c.mid| (the
    // old midpoint is one term of the rounded sum), rounded to nearest (see (4)).
    let mut r = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let at = i * c.rs + j * c.cs;
            r[i * n + j] = c.rad[at] + gamma * c.mid[at].abs();
        }
    }
    // (2) The midpoints: one product, c.mid <- RN-kernel(c.mid + a.mid b.mid).
    // SAFETY: the asserts above keep every index of the three strided matrices inside its
    // slice, `c` is mutable and its entries do not alias, and `a`, `b` are only read.
    unsafe {
        kernel_acc(m, k, n, (a.mid.as_ptr(), a.rs, a.cs), (b.mid.as_ptr(), b.rs, b.cs), (c.mid.as_mut_ptr(), c.rs, c.cs));
    }
    // (3) The radii's new part, one product of non-negative matrices:
    // [|a.mid|, a.rad] [X; Y] with X = b.rad + gamma |b.mid| and Y = |b.mid| + b.rad, or, when
    // one operand is exact (radii all zero, as the weights of the point path), the half of it
    // that is not zero: (gamma |a.mid| + a.rad) |b.mid| or |a.mid| (b.rad + gamma |b.mid|).
    let (a_exact, b_exact) = (is_exact(&a), is_exact(&b));
    let width = if a_exact || b_exact { k } else { 2 * k };
    let mut left = vec![0.0; m * width];
    let mut right = vec![0.0; width * n];
    let abs = |mid: f64, _rad: f64| mid.abs();
    let x_of = |mid: f64, rad: f64| rad + gamma * mid.abs();
    let y_of = |mid: f64, rad: f64| mid.abs() + rad;
    if b_exact {
        fill(&a, &mut left, width, 0, |mid, rad| gamma * mid.abs() + rad);
        fill(&b, &mut right, n, 0, abs);
    } else if a_exact {
        fill(&a, &mut left, width, 0, abs);
        fill(&b, &mut right, n, 0, x_of);
    } else {
        fill(&a, &mut left, width, 0, abs);
        fill(&a, &mut left[k..], width, 0, |_mid, rad| rad);
        fill(&b, &mut right, n, 0, x_of);
        fill(&b, &mut right, n, k, y_of);
    }
    // SAFETY: contiguous row-major buffers of exactly the sizes passed.
    unsafe {
        kernel_acc(m, width, n, (left.as_ptr(), width, 1), (right.as_ptr(), n, 1), (r.as_mut_ptr(), n, 1));
    }
    // (4) Every entry of r is a rounded (to nearest) sum of at most 2k + 1 non-negative terms,
    // each computed with at most three roundings: the radius needed is at most
    // (r + (3k + 8) eta) (1 + 2 gamma_{2k+8}) (with the midpoints' underflow), and the two
    // roundings of this formula are covered by taking gamma_{2k+12} (Lemma G).
    let inflate = 1.0 + 2.0 * gamma_upper(2 * k + 12);
    let floor = (3 * k + 8) as f64 * ETA;
    for i in 0..m {
        for j in 0..n {
            let at = i * c.rs + j * c.cs;
            let rad = ((r[i * n + j] + floor) * inflate).next_up();
            c.rad[at] = if c.mid[at].is_finite() && rad.is_finite() { rad } else { f64::INFINITY };
        }
    }
}

/// `c <- c + a b` in plain f64 (no enclosure: the float point path of the validation at nodes,
/// whose coefficients are exact by definition, `proofs/tube-integrator.md`). Matrices are
/// `(data, rows, cols, row stride, column stride)`; panics if the shapes or strides do not fit
/// the slices (a caller's bug, never data-dependent).
pub fn f64_gemm_acc(a: (&[f64], usize, usize, usize, usize), b: (&[f64], usize, usize, usize, usize), c: (&mut [f64], usize, usize, usize, usize)) {
    let ((a, m, k, ars, acs), (b, bk, n, brs, bcs), (c, cm, cn, crs, ccs)) = (a, b, c);
    assert!(bk == k && cm == m && cn == n, "f64_gemm_acc: shapes");
    assert!(a.len() >= extent(m, k, ars, acs) && b.len() >= extent(k, n, brs, bcs) && c.len() >= extent(m, n, crs, ccs), "f64_gemm_acc: extents");
    assert!((ccs == 1 && crs >= n) || (crs == 1 && ccs >= m), "f64_gemm_acc: c must be row- or column-major without aliasing");
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the asserts keep every index of the three strided matrices inside its slice, `c`
    // is mutable and its entries do not alias, and `a`, `b` are only read.
    unsafe {
        kernel_acc(m, k, n, (a.as_ptr(), ars, acs), (b.as_ptr(), brs, bcs), (c.as_mut_ptr(), crs, ccs));
    }
}

/// `c <- c + a b` by the kernel (`gemm`, single-threaded: the callers already run one chunk of
/// inputs per core), each operand `(pointer, row stride, column stride)`. With `alpha = beta = 1`
/// the kernel forms every entry as the old entry plus a sum of the `k` products in some order
/// of blocks and fused multiply-adds, then adds it with one `mul_add(1, sum, c)`: the
/// arithmetic of Lemma G1 (`proofs/fast-interval.md`).
///
/// # Safety
/// Every index `i rs + j cs` of the three matrices must lie inside its allocation, and `c`'s
/// entries must not alias each other or `a`, `b`.
unsafe fn kernel_acc(m: usize, k: usize, n: usize, a: (*const f64, usize, usize), b: (*const f64, usize, usize), c: (*mut f64, usize, usize)) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    let s = |x: usize| x as isize;
    // gemm's argument order: (m, n, k, dst, dst_cs, dst_rs, read_dst, lhs, lhs_cs, lhs_rs, rhs,
    // rhs_cs, rhs_rs, alpha (of dst), beta (of the product), conjugations, parallelism).
    gemm::gemm(m, n, k, c.0, s(c.2), s(c.1), true, a.0, s(a.2), s(a.1), b.0, s(b.2), s(b.1), 1.0, 1.0, false, false, false, gemm::Parallelism::None);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rug::Rational;

    fn exact(x: f64) -> Rational {
        Rational::from_f64(x).expect("finite")
    }

    /// A member of the ball `m +- r` picked by `t in [-1, 1]`.
    fn member(m: f64, r: f64, t: f64) -> Rational {
        exact(m) + exact(r) * exact(t)
    }

    fn entries(len: usize) -> impl Strategy<Value = Vec<(f64, f64, f64)>> {
        let mid = prop_oneof![-10.0..10.0f64, -1e-300..1e-300f64, Just(0.0)];
        let rad = prop_oneof![Just(0.0), 0.0..1e-12f64, 0.0..1.0f64];
        proptest::collection::vec((mid, rad, -1.0..=1.0f64), len)
    }

    proptest! {
        /// The result contains `c + a b` for members of every ball (exact rational reference),
        /// with `a` read transposed through its strides, on sizes where the kernel blocks; also
        /// with `a` or `b` exact (all radii zero: the shorter radius product).
        #[test]
        fn product_contains_member_products(
            (m, k, n) in (1usize..9, 1usize..40, 1usize..9),
            a in entries(8 * 40),
            b in entries(40 * 8),
            c in entries(8 * 8),
            exact_side in 0usize..3,
        ) {
            let point = |v: Vec<(f64, f64, f64)>| v.into_iter().map(|e| (e.0, 0.0, e.2)).collect::<Vec<_>>();
            let (a, b) = match exact_side {
                1 => (point(a), b),
                2 => (a, point(b)),
                _ => (a, b),
            };
            // a stored column-major (rs = 1, cs = m), b row-major, c row-major.
            let (am, ar): (Vec<f64>, Vec<f64>) = a.iter().map(|e| (e.0, e.1)).unzip();
            let (bm, br): (Vec<f64>, Vec<f64>) = b.iter().map(|e| (e.0, e.1)).unzip();
            let (mut cm, mut cr): (Vec<f64>, Vec<f64>) = c.iter().map(|e| (e.0, e.1)).unzip();
            let old: Vec<Rational> = c.iter().map(|e| member(e.0, e.1, e.2)).collect();
            ball_gemm_acc(
                BallMatrix { mid: &am, rad: &ar, rows: m, cols: k, rs: 1, cs: m },
                BallMatrix { mid: &bm, rad: &br, rows: k, cols: n, rs: n, cs: 1 },
                BallMatrixMut { mid: &mut cm, rad: &mut cr, rows: m, cols: n, rs: n, cs: 1 },
            );
            for i in 0..m {
                for j in 0..n {
                    let mut sum = old[i * n + j].clone();
                    for l in 0..k {
                        let x = &a[i + l * m];
                        let y = &b[l * n + j];
                        sum += member(x.0, x.1, x.2) * member(y.0, y.1, y.2);
                    }
                    let (mid, rad) = (cm[i * n + j], cr[i * n + j]);
                    let distance = (sum - exact(mid)).abs();
                    prop_assert!(distance <= exact(rad), "entry ({}, {}): off by {} > radius {:e}", i, j, distance.to_f64(), rad);
                }
            }
        }
    }

    /// Sizes at which the kernel blocks over `k` and packs several panels (its large-matrix
    /// path, which the proptest's sizes do not reach), with cancelling terms: sampled entries
    /// contain the exact sums of members of the balls.
    #[test]
    fn large_products_contain_member_products() {
        let (m, k, n) = (67, 700, 131);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let a: Vec<(f64, f64, f64)> = (0..m * k).map(|_| (next() * 3.0, next().abs() * 1e-14, next())).collect();
        let b: Vec<(f64, f64, f64)> = (0..k * n).map(|_| (next(), 0.0, 0.0)).collect();
        let c: Vec<(f64, f64, f64)> = (0..m * n).map(|_| (next(), next().abs() * 1e-15, next())).collect();
        let (am, ar): (Vec<f64>, Vec<f64>) = a.iter().map(|e| (e.0, e.1)).unzip();
        let (bm, br): (Vec<f64>, Vec<f64>) = b.iter().map(|e| (e.0, e.1)).unzip();
        let (mut cm, mut cr): (Vec<f64>, Vec<f64>) = c.iter().map(|e| (e.0, e.1)).unzip();
        ball_gemm_acc(
            BallMatrix { mid: &am, rad: &ar, rows: m, cols: k, rs: k, cs: 1 },
            BallMatrix { mid: &bm, rad: &br, rows: k, cols: n, rs: n, cs: 1 },
            BallMatrixMut { mid: &mut cm, rad: &mut cr, rows: m, cols: n, rs: n, cs: 1 },
        );
        for (i, j) in [(0, 0), (66, 130), (13, 64), (40, 7), (65, 129), (1, 128)] {
            let mut sum = member(c[i * n + j].0, c[i * n + j].1, c[i * n + j].2);
            for l in 0..k {
                let (x, y) = (&a[i * k + l], &b[l * n + j]);
                sum += member(x.0, x.1, x.2) * member(y.0, y.1, y.2);
            }
            let distance = (sum - exact(cm[i * n + j])).abs();
            assert!(distance <= exact(cr[i * n + j]), "entry ({i}, {j}): off by {} > radius {:e}", distance.to_f64(), cr[i * n + j]);
            assert!(cr[i * n + j] < 1e-9, "entry ({i}, {j}): radius {:e} is not a rounding bound", cr[i * n + j]);
        }
    }

    /// Non-finite inputs give the whole line, not a false radius.
    #[test]
    fn overflow_gives_infinite_radius() {
        let (am, ar) = (vec![1e300, 1e300], vec![0.0, 0.0]);
        let (bm, br) = (vec![1e300, 1e300], vec![0.0, 0.0]);
        let (mut cm, mut cr) = (vec![0.0], vec![0.0]);
        ball_gemm_acc(
            BallMatrix { mid: &am, rad: &ar, rows: 1, cols: 2, rs: 2, cs: 1 },
            BallMatrix { mid: &bm, rad: &br, rows: 2, cols: 1, rs: 1, cs: 1 },
            BallMatrixMut { mid: &mut cm, rad: &mut cr, rows: 1, cols: 1, rs: 1, cs: 1 },
        );
        assert_eq!(cr[0], f64::INFINITY);
    }
}
