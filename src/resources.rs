//! A resource model (issue 21): the peak working memory of `certify`, `simulate` or `check` on
//! an MLP problem, estimated from its dimensions alone, so that a run that cannot fit is refused
//! with one line before anything proportional to the dimensions is allocated. Library only: the
//! command line (`cli`) chooses the limit (`--max-memory`, default half of the machine's memory)
//! and maps the refusal to an exit code.
//!
//! **The model.** With `n` inputs, layer widths `w_0, ..., w_L` (`w_L` outputs), `p` parameters,
//! `N = n w_L` outputs over all inputs and `K = q + 2` Taylor coefficients (`q` the order;
//! gradient descent has no series: `K = 2`, a value and a gradient), every entry a ball or an
//! endpoint interval of two f64 (16 bytes), the terms are
//!
//! - the Taylor workspaces (`model::mlp::MlpSeries`, summed over the gradient flow's chunks,
//!   which split the inputs): per layer and coefficient an `n x w_l` vector for each of `z`, the
//!   activation's values, slopes and up to three auxiliary series, `delta` and `upstream`:
//!   `8 K n (w_1 + ... + w_L)` entries;
//! - the parameter series: the path coefficients `p x K`, the Taylor shift `p x K` and the
//!   chunks' gradient coefficients: `3 K p` entries;
//! - the linearised flow: the Jacobian `N x p` and the kernel `K0` (`N x N`, with its upper
//!   triangle while it is formed): `N p + 2 N^2` entries;
//! - the problem itself (weights, inputs, targets, the initial box and its centres):
//!   `4 (p + n w_0 + N)` entries;
//! - a fixed [`BASE`] (the binary, thread stacks, allocator arenas): 16 MiB.
//!
//! The checker (`ntkcert check`) holds the same arrays in MPFR balls at 128 bits: its estimate
//! is [`CHECKER_BASE`] (48 MiB) plus [`CHECKER_FACTOR`] (10) times the terms above. Measured
//! (check of certify's default certificate): gf-mlp-small 13.5 MiB (estimate 51.5),
//! gf-mlp-capd-edge 69.0 (85.5), gf-mlp-mid 220.8 (260.8); gf-mlp-large and deep-tanh-w128
//! were measured over their first 100 s only (1402 and 651 MiB so far; estimates 6.9 GiB and
//! 1.0 GiB): the factor fits the small and mid checks and is generous for the large ones.
//!
//! **Calibration** (2 cores, `/usr/bin/time -v`, maximum resident set size, default options,
//! estimate from [`estimate`] at order 16), certify / simulate:
//!
//! | spec | measured MiB | estimate MiB | estimate / certify |
//! |---|---|---|---|
//! | gf-mlp-small | 8.2 / 7.9 | 16.4 | 2.0 |
//! | gf-mlp-capd-edge | 11.0 / 9.2 | 19.7 | 1.8 |
//! | gf-mlp-mid | 24.0 / 14.6 | 37.3 | 1.6 |
//! | deep-tanh-w128 | 46.2 / 42.1 | 115.7 | 2.5 |
//! | deep-tanh-w512 | 431.3 / 328.5 | 887.2 | 2.1 |
//! | gf-mlp-large | 497.7 / 233.2 | 722.0 | 1.5 |
//!
//! So the estimate is an upper bound within 2.5x on the shipped specs (it is a model,
//! not a proof: a run may use more memory than estimated, e.g. the node validation of very
//! deep nets, but it has not on these).

/// Bytes of one entry in the certifying arithmetic: a ball (midpoint, radius) or an endpoint
/// interval, two f64.
pub const ENTRY: u64 = 16;
/// Entries per layer unit, input and Taylor coefficient in a Taylor workspace: `z`, the
/// activation's values, slopes and up to 3 auxiliary series, `delta`, `upstream`.
pub const SERIES_PER_UNIT: u64 = 8;
/// The fixed part: the binary, thread stacks and allocator arenas (measured: 8 MiB for
/// gf-mlp-small, rounded up).
pub const BASE: u64 = 16 << 20;
/// The checker's MPFR balls (128-bit midpoint with its limbs, a radius) against an f64 ball:
/// the checker's estimate is [`CHECKER_BASE`] plus this factor times the terms of the model.
pub const CHECKER_FACTOR: u64 = 10;
/// The checker's fixed part (MPFR's caches, its per-step records).
pub const CHECKER_BASE: u64 = 48 << 20;
/// The Taylor order when neither the spec nor the command line gives one (certify's).
pub use crate::certify::DEFAULT_ORDER;

/// A memory limit to hold a spec's run to while it is loaded (`spec::load_within`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLimit {
    /// The limit in bytes.
    pub bytes: u64,
    /// The Taylor order given on the command line (`--order`, or the certificate's for
    /// `check`); else the spec's `[solver] order`, else [`DEFAULT_ORDER`].
    pub order: Option<usize>,
    pub engine: Engine,
}

/// Which program holds the arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// `certify` and `simulate` (f64 balls and intervals; simulate needs less).
    Certify,
    /// `check` (MPFR balls).
    Check,
}

/// The dimensions a run's memory depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dims {
    /// `[inputs dimension, hidden widths..., outputs]` (`model.widths`).
    pub widths: Vec<usize>,
    /// The number of training inputs `n`.
    pub inputs: usize,
    /// The spec field that gives `n` (`data.n`, `data.inputs`, `data.inputs_file`).
    pub inputs_field: &'static str,
    /// The number of parameters `p`.
    pub params: usize,
    /// The Taylor order `q`.
    pub order: usize,
    /// Gradient descent (no Taylor series) rather than gradient flow.
    pub descent: bool,
    pub engine: Engine,
}

/// An estimate of a run's peak working memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// The estimated peak, in bytes (saturating).
    pub bytes: u64,
    /// The spec field that drives the largest term, e.g. `model.widths`, `data.inputs`,
    /// `solver.order`.
    pub driver: &'static str,
    /// The largest term in words, e.g. `Taylor workspaces of 100 inputs x width 4096 at order 16`.
    pub detail: String,
}

fn mul(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |a, &b| a.saturating_mul(b))
}

/// The estimated peak working memory of a run with these dimensions (the module's model).
pub fn estimate(dims: &Dims) -> Estimate {
    let n = dims.inputs as u64;
    let p = dims.params as u64;
    let w = &dims.widths;
    let d = w.first().copied().unwrap_or(0) as u64;
    let outputs = w.last().copied().unwrap_or(1) as u64;
    let units: u64 = w.iter().skip(1).map(|&x| x as u64).fold(0, u64::saturating_add);
    let widest = w.iter().skip(1).copied().max().unwrap_or(0);
    let big_n = n.saturating_mul(outputs);
    let k = if dims.descent { 2 } else { dims.order as u64 + 2 };
    let entry = match dims.engine {
        Engine::Certify => ENTRY,
        Engine::Check => ENTRY * CHECKER_FACTOR,
    };
    let at_order = if dims.descent { String::new() } else { format!(" at order {}", dims.order) };
    let terms: [(u64, &'static str, String); 5] = [
        (
            mul(&[SERIES_PER_UNIT, k, n, units, entry]),
            if units >= n { "model.widths" } else { dims.inputs_field },
            format!("Taylor workspaces of {n} inputs x width {widest}{at_order}"),
        ),
        (mul(&[3, k, p, entry]), "model.widths", format!("Taylor coefficients of {p} parameters{at_order}")),
        (
            mul(&[big_n, p, entry]),
            if p >= big_n { "model.widths" } else { dims.inputs_field },
            format!("the Jacobian of {big_n} outputs x {p} parameters"),
        ),
        (mul(&[2, big_n, big_n, entry]), dims.inputs_field, format!("the kernel of {big_n} x {big_n} outputs")),
        (
            mul(&[4, p.saturating_add(n.saturating_mul(d)).saturating_add(big_n), entry]),
            "model.widths",
            format!("the weights and data ({p} parameters, {n} inputs of dimension {d})"),
        ),
    ];
    let base = match dims.engine {
        Engine::Certify => BASE,
        Engine::Check => CHECKER_BASE,
    };
    let bytes = terms.iter().fold(base, |a, t| a.saturating_add(t.0));
    let (_, driver, detail) = terms.into_iter().max_by_key(|t| t.0).expect("five terms");
    Estimate { bytes, driver, detail }
}

/// Why a run is refused: its estimate is above the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    pub estimate: Estimate,
    pub limit: u64,
}

impl OverLimit {
    /// One line without the field: `the run needs about 37.2 GiB (Taylor workspaces of ...),
    /// above the limit of 12.0 GiB (--max-memory)`.
    pub fn reason(&self) -> String {
        format!(
            "the run needs about {} ({}), above the limit of {} (--max-memory)",
            format_bytes(self.estimate.bytes),
            self.estimate.detail,
            format_bytes(self.limit)
        )
    }
}

/// The estimate if it is at most `limit` bytes, else the refusal. When the order is above the
/// default and the run would fit at the default order, the driver is `solver.order`.
pub fn check(dims: &Dims, limit: u64) -> Result<Estimate, OverLimit> {
    let mut estimate = estimate(dims);
    if estimate.bytes <= limit {
        return Ok(estimate);
    }
    if !dims.descent && dims.order > DEFAULT_ORDER {
        let at_default = self::estimate(&Dims { order: DEFAULT_ORDER, ..dims.clone() });
        if at_default.bytes <= limit {
            estimate.driver = "solver.order";
        }
    }
    Err(OverLimit { estimate, limit })
}

/// `37.2 GiB`, `500.0 MiB`, `12.0 KiB`, `512 bytes`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 4] = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in UNITS {
        if bytes >= size {
            return format!("{:.1} {name}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes} bytes")
}

/// A size as given on the command line: bytes (`1048576`), or a number with a binary suffix
/// `K`, `M`, `G`, `T` (optionally followed by `iB` or `B`, any case): `8G`, `500M`, `1.5G`,
/// `1024K`. Errors are one line.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let stripped = lower.strip_suffix("ib").or_else(|| lower.strip_suffix('b')).unwrap_or(&lower);
    let (number, shift) = match stripped.chars().last() {
        Some('k') => (&stripped[..stripped.len() - 1], 10),
        Some('m') => (&stripped[..stripped.len() - 1], 20),
        Some('g') => (&stripped[..stripped.len() - 1], 30),
        Some('t') => (&stripped[..stripped.len() - 1], 40),
        _ => (stripped, 0),
    };
    let number = number.trim();
    if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(bad_size(text));
    }
    let value: f64 = number.parse().map_err(|_| bad_size(text))?;
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes >= 1.0) || bytes >= u64::MAX as f64 {
        return Err(bad_size(text));
    }
    Ok(bytes as u64)
}

fn bad_size(text: &str) -> String {
    format!("expected a size such as 8G, 500M, 1024K or a number of bytes, got '{text}'")
}

/// The default memory limit of every command (`--max-memory`) and of the Python package: half
/// of `MemTotal` in `/proc/meminfo`, else 8 GiB.
pub fn default_max_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| mem_total(&text)).map_or(8 << 30, |total| total / 2)
}

/// `MemTotal` in bytes from the text of `/proc/meminfo` (`MemTotal:  24576000 kB`).
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_bytes() {
        assert_eq!(mem_total("MemFree: 1 kB\nMemTotal:       24576000 kB\n"), Some(24576000 * 1024));
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
        assert!(default_max_memory() > 0);
    }

    fn dims(widths: &[usize], n: usize, order: usize) -> Dims {
        let params = widths.windows(2).map(|w| w[0] * w[1]).sum();
        Dims { widths: widths.to_vec(), inputs: n, inputs_field: "data.n", params, order, descent: false, engine: Engine::Certify }
    }

    #[test]
    fn monotone_in_width_inputs_and_order() {
        let base = estimate(&dims(&[8, 256, 1], 32, 16)).bytes;
        assert!(estimate(&dims(&[8, 512, 1], 32, 16)).bytes > base);
        assert!(estimate(&dims(&[8, 256, 1], 64, 16)).bytes > base);
        assert!(estimate(&dims(&[8, 256, 1], 32, 20)).bytes > base);
        let mut last = 0;
        for width in [1, 10, 100, 1000, 10_000, 100_000] {
            let e = estimate(&dims(&[10, width, width, 1], 100, 16)).bytes;
            assert!(e > last);
            last = e;
        }
    }

    #[test]
    fn drivers_and_the_order_rule() {
        let wide = estimate(&dims(&[16, 4096, 1], 64, 16));
        assert_eq!(wide.driver, "model.widths");
        assert_eq!(wide.detail, "Taylor workspaces of 64 inputs x width 4096 at order 16");
        let many = estimate(&dims(&[2, 16, 1], 100_000, 16));
        assert_eq!(many.driver, "data.n");
        let d = dims(&[8, 256, 1], 32, 60);
        let at_16 = estimate(&dims(&[8, 256, 1], 32, 16)).bytes;
        let refused = check(&d, at_16).unwrap_err();
        assert_eq!(refused.estimate.driver, "solver.order");
        assert!(refused.reason().ends_with(&format!("above the limit of {} (--max-memory)", format_bytes(at_16))));
        assert!(check(&d, u64::MAX).is_ok());
        // Saturates instead of overflowing.
        assert_eq!(estimate(&dims(&[usize::MAX, usize::MAX, 1], usize::MAX, 60)).bytes, u64::MAX);
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("1024K"), Ok(1 << 20));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("8g"), Ok(8 << 30));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("8GB"), Ok(8 << 30));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        for bad in ["", "G", "-1G", "0", "8X", "abc", "1e9", "8 G B", "nan", "0.1"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(format_bytes(37_200 << 20), "36.3 GiB");
        assert_eq!(format_bytes(500 << 20), "500.0 MiB");
        assert_eq!(format_bytes(512), "512 bytes");
    }
}
