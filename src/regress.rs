//! `ntkcert regress DIR...`: the theory regression suite. Every spec carries a `[regress]`
//! table (format: `specs/README.md`, "Regression specs") with assertions about certified
//! quantities and theory bounds, optionally over a schedule of horizons `T` with
//! `alpha = c T^beta`. Each assertion prints one line (`PASS` or `FAIL`); the command exits 1
//! naming every violation, 65/66 on a bad spec (one line naming the file and field).
//!
//! Every comparison is decided on enclosures: `A <= B` passes only if `sup A <= inf B` on every
//! run, `A >= B` only if `inf A >= sup B`, `A ~= B` only if the enclosures intersect (equal
//! within their widths); a bound is the number it states (an upper bound of `sup D`, rounded
//! upward). With `horizon = "inf"` the claims are about all `t >= 0` (`sup_d` is
//! `sup_{t>=0} D`, `horizon` is `[T1, +inf]`), a schedule is refused, and
//! `regress.compare_horizon = T` adds a certification on `[0, T]` (`sup_d_compare`,
//! `final_d_compare`). A fitted exponent is the least-squares slope of `ln Q` against
//! `ln T`, enclosed by interval arithmetic from the enclosures of `Q`; it passes only if the
//! whole enclosure lies in `[min, max]`. Proof of these decisions: `proofs/theory-f7.md#regress`.

use crate::spec::type_name;
use crate::arith::rational::{parse_decimal, rational_to_interval, rational_to_string};
use crate::arith::vector::point;
use crate::certify::{certify, Certified, Options};
use crate::error::{Error, Outcome};
use crate::spec::{self, SpecError};
use crate::theory::{theory_bounds, TheoryBounds};
use inari::Interval;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// A quantity an assertion can name.
#[derive(Debug, Clone, PartialEq)]
pub enum Quantity {
    /// Certified `sup_{t<=T} D(t)`.
    SupD,
    /// Certified `D(T)`.
    FinalD,
    R0,
    Kappa,
    KappaSqrtR0,
    /// `sup D / (kappa sqrt(R0))` (enclosure).
    Ratio,
    LipH,
    LipDh,
    Horizon,
    Alpha,
    /// `bound.KEY`: the value of a named theory bound.
    Bound(String),
    /// With `regress.compare_horizon = T` (specs with `horizon = "inf"`): the certified
    /// `sup_{t<=T} D(t)` of the same problem on the finite horizon `T`.
    SupDCompare,
    /// The same run's `D(T)`.
    FinalDCompare,
}

const QUANTITIES: &str = "sup_d, final_d, sup_d_compare, final_d_compare, r0, kappa, kappa_sqrt_r0, ratio, lip_h, lip_dh_local, horizon, alpha, bound.trivial, bound.published, bound.sharpened, bound.gronwall_t2, bound.loss_decrease, bound.regularized, bound.gradient_descent, bound.taylor_order";
const BOUND_KEYS: [&str; 8] = ["trivial", "published", "sharpened", "gronwall_t2", "loss_decrease", "regularized", "gradient_descent", "taylor_order"];

impl Quantity {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "sup_d" => Quantity::SupD,
            "final_d" => Quantity::FinalD,
            "sup_d_compare" => Quantity::SupDCompare,
            "final_d_compare" => Quantity::FinalDCompare,
            "r0" => Quantity::R0,
            "kappa" => Quantity::Kappa,
            "kappa_sqrt_r0" => Quantity::KappaSqrtR0,
            "ratio" => Quantity::Ratio,
            "lip_h" => Quantity::LipH,
            "lip_dh_local" => Quantity::LipDh,
            "horizon" => Quantity::Horizon,
            "alpha" => Quantity::Alpha,
            other => {
                let key = other.strip_prefix("bound.")?;
                if !BOUND_KEYS.contains(&key) {
                    return None;
                }
                Quantity::Bound(key.to_string())
            }
        })
    }

    /// Whether the quantity comes from the `regress.compare_horizon` run.
    fn is_compare(&self) -> bool {
        matches!(self, Quantity::SupDCompare | Quantity::FinalDCompare)
    }

    fn name(&self) -> String {
        match self {
            Quantity::SupD => "sup_d".into(),
            Quantity::FinalD => "final_d".into(),
            Quantity::SupDCompare => "sup_d_compare".into(),
            Quantity::FinalDCompare => "final_d_compare".into(),
            Quantity::R0 => "r0".into(),
            Quantity::Kappa => "kappa".into(),
            Quantity::KappaSqrtR0 => "kappa_sqrt_r0".into(),
            Quantity::Ratio => "ratio".into(),
            Quantity::LipH => "lip_h".into(),
            Quantity::LipDh => "lip_dh_local".into(),
            Quantity::Horizon => "horizon".into(),
            Quantity::Alpha => "alpha".into(),
            Quantity::Bound(k) => format!("bound.{k}"),
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Quantity(Quantity),
    Number(BigRational),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Le,
    Ge,
    /// `"~="`: the two enclosures intersect (equal within their widths).
    Overlaps,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Overlaps => "~=",
        }
    }
}

/// One assertion of a regression spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Assertion {
    /// `lhs op rhs` on every run.
    Compare { lhs: Quantity, op: Op, rhs: Operand },
    /// The fitted exponent of `quantity` in `T` over the schedule lies in `[min, max]`.
    Exponent { quantity: Quantity, min: BigRational, max: BigRational },
}

/// A schedule: horizons `T` and `alpha = c T^beta` (`regress.horizons`; fitted exponents in
/// `T`), or values of `alpha` at the spec's horizon (`regress.alphas`; fitted exponents in
/// `alpha`, `horizons` empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub horizons: Vec<BigRational>,
    pub alpha: BigRational,
    pub exponent: BigRational,
    pub alphas: Vec<BigRational>,
}

impl Schedule {
    /// The number of runs.
    pub fn len(&self) -> usize {
        self.horizons.len().max(self.alphas.len())
    }

    /// Whether the schedule varies `alpha` (`regress.alphas`) rather than `T`.
    pub fn over_alpha(&self) -> bool {
        !self.alphas.is_empty()
    }

    /// `(T, alpha)` of every run; `T = None` keeps the spec's horizon.
    fn members(&self) -> Vec<(Option<BigRational>, BigRational)> {
        if self.over_alpha() {
            return self.alphas.iter().map(|a| (None, a.clone())).collect();
        }
        self.horizons.iter().map(|t| (Some(t.clone()), &self.alpha * exact_power(t, &self.exponent).expect("checked when parsed"))).collect()
    }
}

/// A parsed regression spec.
#[derive(Debug, Clone)]
pub struct RegressSpec {
    pub path: PathBuf,
    pub label: String,
    /// The spec without its `[regress]` table.
    pub base: Table,
    pub schedule: Option<Schedule>,
    /// `regress.compare_horizon` (only with `horizon = "inf"`): each run also certifies the
    /// same problem on `[0, T]` for the `*_compare` quantities.
    pub compare_horizon: Option<BigRational>,
    /// `(name, assertion)`; the name defaults to the assertion's text.
    pub asserts: Vec<(String, Assertion)>,
}

fn invalid(label: &str, field: &str, reason: impl Into<String>) -> SpecError {
    SpecError::invalid(field, reason).in_file(label)
}


fn exact(label: &str, field: &str, v: &Value) -> Result<BigRational, SpecError> {
    match v {
        Value::Integer(i) => Ok(BigRational::from_integer(BigInt::from(*i))),
        Value::String(s) => parse_decimal(s).map_err(|e| invalid(label, field, e.to_string())),
        Value::Float(x) => Err(invalid(
            label,
            field,
            format!("TOML float {x:?} is not exact; write the number as a quoted decimal string, e.g. \"{x:?}\""),
        )),
        v => Err(invalid(label, field, format!("expected a number (an integer or a quoted decimal string), got {}", type_name(v)))),
    }
}

fn check_keys(label: &str, field: &str, t: &Table, allowed: &[&str]) -> Result<(), SpecError> {
    for k in t.keys() {
        if !allowed.contains(&k.as_str()) {
            let f = if field.is_empty() { k.clone() } else { format!("{field}.{k}") };
            return Err(invalid(label, &f, format!("unknown key (allowed here: {})", allowed.join(", "))));
        }
    }
    Ok(())
}

fn quantity(label: &str, field: &str, v: &Value) -> Result<Quantity, SpecError> {
    let s = v.as_str().ok_or_else(|| invalid(label, field, format!("expected a quantity name (a string), got {}", type_name(v))))?;
    Quantity::parse(s).ok_or_else(|| invalid(label, field, format!("unknown quantity '{s}' (expected one of {QUANTITIES})")))
}

/// `T^beta` exactly, when it is rational (`T = a/b`, `beta = p/q` with `a`, `b` perfect
/// `q`-th powers).
pub fn exact_power(t: &BigRational, beta: &BigRational) -> Option<BigRational> {
    if !t.is_positive() {
        return None;
    }
    let q: u32 = beta.denom().try_into().ok()?;
    let p: i32 = beta.numer().try_into().ok()?;
    let root = |x: &BigInt| -> Option<BigInt> {
        let r = x.nth_root(q);
        (num_traits::pow::pow(r.clone(), q as usize) == *x).then_some(r)
    };
    let base = BigRational::new(root(t.numer())?, root(t.denom())?);
    let mut out = BigRational::one();
    for _ in 0..p.unsigned_abs() {
        out *= &base;
    }
    Some(if p < 0 { out.recip() } else { out })
}

/// Reads and validates a regression spec (its `[regress]` table; the rest is checked when it
/// runs, by the spec loader).
pub fn parse(path: &Path) -> Result<RegressSpec, SpecError> {
    let label = path.display().to_string();
    let text = crate::files::read_text_bounded(path, crate::files::SPEC_LIMIT).map_err(|e| {
        let reason = e.to_string();
        let reason = reason.split(" (os error").next().unwrap_or(&reason).to_string();
        if e.kind() == std::io::ErrorKind::InvalidData {
            SpecError::invalid("", "not UTF-8 text").in_file(&label)
        } else {
            SpecError::io(None, format!("cannot read spec file: {reason}")).in_file(&label)
        }
    })?;
    parse_str(&text, path, &label)
}

/// As [`parse`], from text.
pub fn parse_str(text: &str, path: &Path, label: &str) -> Result<RegressSpec, SpecError> {
    // Syntax errors are reported by the spec loader, which names the line and column.
    let mut base: Table = match text.parse() {
        Ok(t) => t,
        Err(_) => return Err(spec::load_str(text, Path::new("."), label).err().unwrap_or_else(|| invalid(label, "", "invalid TOML"))),
    };
    let regress = match base.remove("regress") {
        Some(Value::Table(t)) => t,
        Some(v) => return Err(invalid(label, "regress", format!("expected a table, got {}", type_name(&v)))),
        None => return Err(invalid(label, "regress", "missing: a regression spec needs a [regress] table with [[regress.assert]] entries")),
    };
    check_keys(label, "regress", &regress, &["horizons", "alphas", "alpha", "alpha_exponent", "compare_horizon", "assert"])?;
    if regress.contains_key("alphas") && regress.contains_key("horizons") {
        return Err(invalid(label, "regress.alphas", "not with regress.horizons (a schedule varies either T or alpha)"));
    }
    // horizon = "inf": the claims are about all t >= 0; a schedule of finite horizons would
    // silently change that, so only the comparison with one finite horizon is offered.
    let infinite = matches!(base.get("horizon"), Some(Value::String(h)) if h == "inf");
    if infinite && regress.contains_key("alphas") {
        return Err(invalid(label, "regress.alphas", "not with horizon = \"inf\" (use a finite horizon)"));
    }
    if infinite && regress.contains_key("horizons") {
        return Err(invalid(label, "regress.horizons", "not with horizon = \"inf\" (the claims are about all t >= 0); use regress.compare_horizon to compare with a finite horizon"));
    }
    let compare_horizon = match regress.get("compare_horizon") {
        None => None,
        Some(_) if !infinite => return Err(invalid(label, "regress.compare_horizon", "only with horizon = \"inf\"")),
        Some(v) => {
            let t = exact(label, "regress.compare_horizon", v)?;
            if !t.is_positive() {
                return Err(invalid(label, "regress.compare_horizon", "must be > 0"));
            }
            Some(t)
        }
    };
    let schedule = match regress.get("horizons") {
        None => {
            for k in ["alpha", "alpha_exponent"] {
                if regress.contains_key(k) {
                    return Err(invalid(label, &format!("regress.{k}"), "only allowed with regress.horizons (a schedule)"));
                }
            }
            match regress.get("alphas") {
                None => None,
                Some(v) => Some(Schedule { horizons: Vec::new(), alpha: BigRational::zero(), exponent: BigRational::zero(), alphas: positive_list(label, "regress.alphas", v)? }),
            }
        }
        Some(v) => {
            let arr = v.as_array().ok_or_else(|| invalid(label, "regress.horizons", format!("expected an array of horizons, got {}", type_name(v))))?;
            if arr.is_empty() {
                return Err(invalid(label, "regress.horizons", "expected at least one horizon"));
            }
            let mut horizons = Vec::new();
            for (i, x) in arr.iter().enumerate() {
                let f = format!("regress.horizons[{i}]");
                let t = exact(label, &f, x)?;
                if !t.is_positive() {
                    return Err(invalid(label, &f, "a horizon must be > 0"));
                }
                horizons.push(t);
            }
            let alpha = match regress.get("alpha") {
                Some(v) => exact(label, "regress.alpha", v)?,
                None => match base.get("alpha") {
                    Some(v) => exact(label, "alpha", v)?,
                    None => return Err(invalid(label, "regress.alpha", "missing (the constant c of alpha = c T^beta)")),
                },
            };
            if !alpha.is_positive() {
                return Err(invalid(label, "regress.alpha", "must be > 0"));
            }
            let exponent = match regress.get("alpha_exponent") {
                Some(v) => exact(label, "regress.alpha_exponent", v)?,
                None => BigRational::zero(),
            };
            for (i, t) in horizons.iter().enumerate() {
                if exact_power(t, &exponent).is_none() {
                    return Err(invalid(
                        label,
                        &format!("regress.horizons[{i}]"),
                        format!(
                            "T^alpha_exponent = {}^({}) is not rational; choose horizons that are perfect powers",
                            rational_to_string(t),
                            rational_to_string(&exponent)
                        ),
                    ));
                }
            }
            Some(Schedule { horizons, alpha, exponent, alphas: Vec::new() })
        }
    };
    let asserts_v = regress.get("assert").ok_or_else(|| invalid(label, "regress.assert", "missing: add at least one [[regress.assert]]"))?;
    let asserts_a = asserts_v
        .as_array()
        .ok_or_else(|| invalid(label, "regress.assert", format!("expected an array of tables ([[regress.assert]]), got {}", type_name(asserts_v))))?;
    if asserts_a.is_empty() {
        return Err(invalid(label, "regress.assert", "expected at least one assertion"));
    }
    let mut asserts = Vec::new();
    for (i, a) in asserts_a.iter().enumerate() {
        let field = format!("regress.assert[{i}]");
        let t = a.as_table().ok_or_else(|| invalid(label, &field, format!("expected a table, got {}", type_name(a))))?;
        let (assertion, text) = if let Some(q) = t.get("exponent") {
            check_keys(label, &field, t, &["exponent", "min", "max", "name"])?;
            let quantity = quantity(label, &format!("{field}.exponent"), q)?;
            let min = exact(label, &format!("{field}.min"), t.get("min").ok_or_else(|| invalid(label, &format!("{field}.min"), "missing"))?)?;
            let max = exact(label, &format!("{field}.max"), t.get("max").ok_or_else(|| invalid(label, &format!("{field}.max"), "missing"))?)?;
            if min > max {
                return Err(invalid(label, &format!("{field}.max"), "must be >= min"));
            }
            let n = schedule.as_ref().map_or(1, Schedule::len);
            if n < 2 {
                return Err(invalid(label, &format!("{field}.exponent"), "a fitted exponent needs a schedule with at least two runs (regress.horizons or regress.alphas)"));
            }
            let variable = if schedule.as_ref().is_some_and(Schedule::over_alpha) { "alpha" } else { "T" };
            let text = format!("exponent of {} in {variable} in [{}, {}]", quantity.name(), rational_to_string(&min), rational_to_string(&max));
            (Assertion::Exponent { quantity, min, max }, text)
        } else {
            check_keys(label, &field, t, &["lhs", "op", "rhs", "name"])?;
            let lhs_v = t.get("lhs").ok_or_else(|| invalid(label, &format!("{field}.lhs"), "missing (or give 'exponent')"))?;
            let lhs = quantity(label, &format!("{field}.lhs"), lhs_v)?;
            let op_v = t.get("op").ok_or_else(|| invalid(label, &format!("{field}.op"), "missing"))?;
            let op = match op_v.as_str() {
                Some("<=") => Op::Le,
                Some(">=") => Op::Ge,
                Some("~=") => Op::Overlaps,
                _ => return Err(invalid(label, &format!("{field}.op"), format!("expected \"<=\", \">=\" or \"~=\", got {op_v}"))),
            };
            let rhs_v = t.get("rhs").ok_or_else(|| invalid(label, &format!("{field}.rhs"), "missing"))?;
            let rf = format!("{field}.rhs");
            let rhs = match rhs_v {
                Value::String(s) if Quantity::parse(s).is_some() => Operand::Quantity(Quantity::parse(s).expect("checked")),
                Value::String(s) if parse_decimal(s).is_ok() => Operand::Number(parse_decimal(s).expect("checked")),
                Value::String(s) => {
                    return Err(invalid(label, &rf, format!("'{s}' is neither a quantity ({QUANTITIES}) nor an exact number")))
                }
                v => Operand::Number(exact(label, &rf, v)?),
            };
            let rhs_text = match &rhs {
                Operand::Quantity(q) => q.name(),
                Operand::Number(x) => rational_to_string(x),
            };
            let text = format!("{} {} {}", lhs.name(), op.text(), rhs_text);
            (Assertion::Compare { lhs, op, rhs }, text)
        };
        let name = match t.get("name") {
            None => text,
            Some(Value::String(s)) => format!("{s}: {text}"),
            Some(v) => return Err(invalid(label, &format!("{field}.name"), format!("expected a string, got {}", type_name(v)))),
        };
        let uses_compare = match &assertion {
            Assertion::Compare { lhs, rhs, .. } => [Some(lhs), if let Operand::Quantity(q) = rhs { Some(q) } else { None }].into_iter().flatten().any(Quantity::is_compare),
            Assertion::Exponent { quantity, .. } => quantity.is_compare(),
        };
        if uses_compare && compare_horizon.is_none() {
            return Err(invalid(label, &field, "sup_d_compare and final_d_compare need regress.compare_horizon (with horizon = \"inf\")"));
        }
        asserts.push((name, assertion));
    }
    Ok(RegressSpec { path: path.to_path_buf(), label: label.to_string(), base, schedule, compare_horizon, asserts })
}

/// One run of a regression spec (one horizon of its schedule).
#[derive(Debug, Clone)]
pub struct Run {
    /// `T` (with `horizon = "inf"`: the settling time `T1`, not a horizon of the claims).
    pub horizon: BigRational,
    /// `horizon = "inf"`: the claims are about all `t >= 0`.
    pub infinite_horizon: bool,
    pub alpha: BigRational,
    pub bounds: TheoryBounds,
    pub certified: Certified,
    /// The certification on `[0, regress.compare_horizon]`, if asked for.
    pub compare: Option<Certified>,
}

impl Run {
    /// The enclosure of a quantity on this run.
    pub fn value(&self, q: &Quantity) -> Interval {
        let sup = self.certified.sup_deviation;
        match q {
            Quantity::SupD => sup,
            Quantity::FinalD => self.certified.final_deviation,
            Quantity::R0 => self.bounds.r0,
            Quantity::Kappa => self.bounds.kappa,
            Quantity::KappaSqrtR0 => self.bounds.kappa_sqrt_r0(),
            Quantity::Ratio => sup / self.bounds.kappa_sqrt_r0(),
            Quantity::LipH => point(self.bounds.lip_h),
            Quantity::LipDh => point(self.bounds.lip_dh_local),
            // horizon = "inf": T = +inf (the settling time T1 is only a lower end).
            Quantity::Horizon if self.infinite_horizon => {
                Interval::try_from((rational_to_interval(&self.horizon).inf(), f64::INFINITY)).unwrap_or(Interval::ENTIRE)
            }
            Quantity::Horizon => rational_to_interval(&self.horizon),
            Quantity::SupDCompare => self.compare.as_ref().map_or(Interval::ENTIRE, |c| c.sup_deviation),
            Quantity::FinalDCompare => self.compare.as_ref().map_or(Interval::ENTIRE, |c| c.final_deviation),
            Quantity::Alpha => rational_to_interval(&self.alpha),
            Quantity::Bound(k) => self.bounds.get(k).map_or(Interval::ENTIRE, point),
        }
    }
}

/// Runs every member of the spec's schedule (or the spec itself): loads it, computes the
/// theory bounds, certifies, adds the loss-decrease bound.
pub fn run_spec(rs: &RegressSpec) -> Result<Vec<Run>, SpecError> {
    let base_dir = match rs.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let members: Vec<Option<(Option<BigRational>, BigRational)>> = match &rs.schedule {
        None => vec![None],
        Some(s) => s.members().into_iter().map(Some).collect(),
    };
    let mut runs = Vec::new();
    for member in members {
        let mut table = rs.base.clone();
        if let Some((t, a)) = &member {
            if let Some(t) = t {
                table.insert("horizon".into(), Value::String(rational_to_string(t)));
            }
            table.insert("alpha".into(), Value::String(rational_to_string(a)));
            let name = table.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| {
                rs.path.file_stem().map_or("spec".into(), |s| s.to_string_lossy().into_owned())
            });
            let label = match t {
                Some(t) => format!("T={}", rational_to_string(t)),
                None => format!("alpha={}", rational_to_string(a)),
            };
            table.insert("name".into(), Value::String(format!("{name} {label}")));
        }
        let text = toml::to_string(&table).map_err(|e| invalid(&rs.label, "", format!("cannot re-serialise the spec: {e}")))?;
        let loaded = spec::load_str(&text, &base_dir, &rs.label)?;
        let problem = &loaded.problem;
        let options = Options::from_solver(&loaded.solver, None);
        let mut bounds = theory_bounds(problem);
        let certified = certify(problem, &options).map_err(|e| invalid(&rs.label, "", e.to_string()))?;
        if certified.outputs_final.iter().all(|x| x.inf().is_finite() && x.sup().is_finite()) {
            let residual: Vec<Interval> = certified.outputs_final.iter().zip(&problem.targets).map(|(&o, &y)| o - y).collect();
            bounds.add_loss_decrease(problem, &residual);
        }
        // The same problem on the finite horizon T (horizon = T, no settle_time).
        let compare = match &rs.compare_horizon {
            None => None,
            Some(t) => {
                let mut finite = table.clone();
                finite.insert("horizon".into(), Value::String(rational_to_string(t)));
                if let Some(Value::Table(training)) = finite.get_mut("training") {
                    training.remove("settle_time");
                }
                let text = toml::to_string(&finite).map_err(|e| invalid(&rs.label, "", format!("cannot re-serialise the spec: {e}")))?;
                let loaded = spec::load_str(&text, &base_dir, &rs.label)?;
                let options = Options::from_solver(&loaded.solver, None);
                Some(certify(&loaded.problem, &options).map_err(|e| invalid(&rs.label, "", e.to_string()))?)
            }
        };
        runs.push(Run {
            horizon: problem.horizon.value.clone(),
            infinite_horizon: problem.infinite_horizon,
            alpha: problem.alpha.value.clone(),
            bounds,
            certified,
            compare,
        });
    }
    Ok(runs)
}

/// The least-squares slope of `ln y` against `ln T`, enclosed (`y` must be positive).
/// Proof: `proofs/theory-f7.md#regress`.
pub fn fitted_exponent(ts: &[Interval], ys: &[Interval]) -> Interval {
    if ys.iter().any(|y| y.inf().is_nan() || y.inf() <= 0.0 || !y.sup().is_finite()) {
        return Interval::ENTIRE;
    }
    let n = point(ts.len() as f64);
    let xs: Vec<Interval> = ts.iter().map(|t| t.ln()).collect();
    let ls: Vec<Interval> = ys.iter().map(|y| y.ln()).collect();
    let xbar = xs.iter().fold(point(0.0), |a, &x| a + x) / n;
    // Centre with xbar: slope = sum (x_i - xbar) l_i / sum (x_i - xbar)^2; the exact xbar lies
    // in the enclosure, so every factor encloses its exact value.
    let mut num = point(0.0);
    let mut den = point(0.0);
    for (x, l) in xs.iter().zip(&ls) {
        let c = *x - xbar;
        num += c * *l;
        den += c.sqr();
    }
    num / den
}

fn fmt(x: Interval) -> String {
    if x.is_entire() {
        return "(unbounded: not certified)".into();
    }
    if x.inf() == x.sup() { format!("{:.4e}", x.inf()) } else { format!("[{:.4e}, {:.4e}]", x.inf(), x.sup()) }
}

/// Evaluates one assertion on the runs: `(passed, details)`, deciding on enclosures
/// (`proofs/theory-f7.md#regress`).
pub fn evaluate(rs: &RegressSpec, runs: &[Run], assertion: &Assertion) -> (bool, String) {
    match assertion {
        Assertion::Compare { lhs, op, rhs } => {
            let mut rows: Vec<(bool, f64, String)> = Vec::new();
            for r in runs {
                let a = r.value(lhs);
                let b = match rhs {
                    Operand::Quantity(q) => r.value(q),
                    Operand::Number(x) => rational_to_interval(x),
                };
                let (ok, slack) = match op {
                    Op::Le => (a.sup() <= b.inf(), a.sup() / b.inf()),
                    Op::Ge => (a.inf() >= b.sup(), b.sup() / a.inf()),
                    // The enclosures intersect; slack: the distance of the midpoints over the
                    // sum of the radii (<= 1 when they intersect).
                    Op::Overlaps => {
                        let finite = a.inf().is_finite() && a.sup().is_finite() && b.inf().is_finite() && b.sup().is_finite();
                        (finite && a.inf() <= b.sup() && b.inf() <= a.sup(), (a.mid() - b.mid()).abs() / (a.rad() + b.rad()))
                    }
                };
                let slack = if slack.is_nan() { f64::INFINITY } else { slack };
                let at = match &rs.schedule {
                    Some(s) if s.over_alpha() => format!("alpha={}: ", rational_to_string(&r.alpha)),
                    Some(_) => format!("T={}: ", rational_to_string(&r.horizon)),
                    None => String::new(),
                };
                let reason = match &r.certified.reason {
                    Some(why) if a.is_entire() || b.is_entire() => format!(" ({why})"),
                    _ => String::new(),
                };
                let text = format!("{at}{} {} {}{reason}", fmt(a), op.text(), fmt(b));
                rows.push((ok, slack, text));
            }
            let all = rows.iter().all(|r| r.0);
            // Show the first failing run, else the tightest one (largest lhs/rhs ratio).
            let shown = rows
                .iter()
                .find(|r| !r.0)
                .or_else(|| rows.iter().max_by(|x, y| x.1.partial_cmp(&y.1).unwrap_or(std::cmp::Ordering::Equal)))
                .map_or("no runs".to_string(), |r| r.2.clone());
            let text = if runs.len() > 1 {
                let failed = rows.iter().filter(|r| !r.0).count();
                if all { format!("{} runs, tightest {shown}", runs.len()) } else { format!("{failed} of {} runs fail, first {shown}", runs.len()) }
            } else {
                shown
            };
            (all, text)
        }
        Assertion::Exponent { quantity, min, max } => {
            let over_alpha = rs.schedule.as_ref().is_some_and(Schedule::over_alpha);
            let ts: Vec<Interval> = runs.iter().map(|r| rational_to_interval(if over_alpha { &r.alpha } else { &r.horizon })).collect();
            let ys: Vec<Interval> = runs.iter().map(|r| r.value(quantity)).collect();
            let slope = fitted_exponent(&ts, &ys);
            let ok = slope.inf() >= rational_to_interval(min).sup() && slope.sup() <= rational_to_interval(max).inf();
            let sched = rs.schedule.as_ref().map_or(String::new(), |s| {
                if s.over_alpha() {
                    return format!(" (alpha = {})", s.alphas.iter().map(rational_to_string).collect::<Vec<_>>().join(", "));
                }
                format!(
                    " (alpha = {} T^({}), T = {})",
                    rational_to_string(&s.alpha),
                    rational_to_string(&s.exponent),
                    s.horizons.iter().map(rational_to_string).collect::<Vec<_>>().join(", ")
                )
            });
            let values = ys.iter().map(|y| format!("{:.3e}", y.sup())).collect::<Vec<_>>().join(", ");
            (ok, format!("fitted exponent {}{sched}; values (upper) {values}", fmt(slope)))
        }
    }
}

/// The spec files named by `paths`: every `*.toml` in a directory (sorted), files as given.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut v: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: cannot read directory: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|q| q.extension().is_some_and(|x| x == "toml"))
                .collect();
            v.sort();
            if v.is_empty() {
                return Err(format!("{}: no *.toml spec in this directory", p.display()));
            }
            out.extend(v);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The `regress` command: prints a line per assertion; [`Outcome::Negative`] when one is
/// violated.
pub fn run(paths: &[PathBuf]) -> Result<Outcome, Error> {
    if paths.is_empty() {
        return Err(Error::usage("regress needs a directory or spec files (usage: ntkcert regress DIR...)"));
    }
    let files = collect(paths).map_err(Error::io)?;
    // Validate everything before running anything.
    let mut specs = Vec::new();
    for f in &files {
        specs.push(parse(f)?);
    }
    let started = std::time::Instant::now();
    let mut violations = Vec::new();
    let mut count = 0;
    for rs in &specs {
        let t0 = std::time::Instant::now();
        let runs = run_spec(rs)?;
        for (i, (name, assertion)) in rs.asserts.iter().enumerate() {
            count += 1;
            let (ok, details) = evaluate(rs, &runs, assertion);
            println!("{} {} [{i}] {name}: {details}", if ok { "PASS" } else { "FAIL" }, rs.label);
            if !ok {
                violations.push(format!("{} [{i}] {name}", rs.label));
            }
        }
        println!("# {}: {} run(s), {:.2} s", rs.label, runs.len(), t0.elapsed().as_secs_f64());
    }
    println!("# {} assertion(s), {} violated, {:.1} s", count, violations.len(), started.elapsed().as_secs_f64());
    if violations.is_empty() {
        Ok(Outcome::Success)
    } else {
        eprintln!("error: {} assertion(s) violated: {}", violations.len(), violations.join("; "));
        Ok(Outcome::Negative)
    }
}

/// An array of exact numbers `> 0` (at least one), for `regress.alphas`.
fn positive_list(label: &str, field: &str, v: &Value) -> Result<Vec<BigRational>, SpecError> {
    let arr = v.as_array().ok_or_else(|| invalid(label, field, format!("expected an array of numbers, got {}", type_name(v))))?;
    if arr.is_empty() {
        return Err(invalid(label, field, "expected at least one value"));
    }
    arr.iter()
        .enumerate()
        .map(|(i, x)| {
            let f = format!("{field}[{i}]");
            let value = exact(label, &f, x)?;
            if value.is_positive() { Ok(value) } else { Err(invalid(label, &f, "must be > 0")) }
        })
        .collect()
}
