//! The grid of a sweep: axes from the spec's `[sweep]` table and from `--set FIELD=V1,V2,...`,
//! their cartesian product (the cells), and the spec text of each cell.
//!
//! An axis is a spec field and a list of values. Fields are dotted paths into the spec
//! (`alpha`, `horizon`, `model.u`, `data.n`, `model.widths[1]`, `solver.order`), with the
//! aliases `T` (= `horizon`), `eps` (= `tolerance`) and two special fields: `width` (every
//! hidden entry of `model.widths`) and `seed` (seeded initial weights, see [`seeded_weights`]).
//! A value is an exact number (`10`, `"0.5"`, `"1/3"`), a boolean, or a schedule in the cell's
//! horizon: `C*T^B`, `C*T`, `C*sqrt(T)`, `T^B`, `T` (e.g. `alpha = "10*T^0.5"`).

use super::SweepError;
use crate::spec::type_name;
use crate::arith::rational::{parse_decimal, rational_to_string};
use num_bigint::{BigInt, Sign};
use num_rational::BigRational;
use num_traits::{One, Signed, ToPrimitive, Zero};
use toml::{Table, Value};

/// One value of an axis, as written, and how it is applied.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisValue {
    /// The value as written (trimmed): it is part of the cell key.
    pub text: String,
    pub kind: ValueKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    /// An integer, written into the spec as a TOML integer.
    Integer(i64),
    /// An exact decimal or fraction, written as a quoted string.
    Exact(BigRational),
    Bool(bool),
    /// `c * T^beta`, with `T` the cell's horizon.
    Schedule { c: BigRational, beta: BigRational },
}

/// A field and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Canonical field name: `horizon`, `tolerance`, `width`, `seed` or a dotted path.
    pub field: String,
    pub values: Vec<AxisValue>,
}

/// Canonical name of a field as written by the user.
pub fn canonical_field(name: &str) -> String {
    match name.trim() {
        "T" => "horizon".to_string(),
        "eps" => "tolerance".to_string(),
        "regularization" | "lambda" => "training.regularization".to_string(),
        "learning_rate" | "eta" => "training.learning_rate".to_string(),
        "reference_order" | "Q" => "training.reference_order".to_string(),
        other => other.to_string(),
    }
}

/// Parses one value. `origin` names it in errors (`field 'sweep.alpha'` or `--set 'alpha=..'`).
pub fn parse_value(text: &str, origin: &str) -> Result<AxisValue, SweepError> {
    let t: String = text.split_whitespace().collect();
    if t.is_empty() {
        return Err(SweepError::usage(format!("{origin}: empty value")));
    }
    let kind = if t == "true" || t == "false" {
        ValueKind::Bool(t == "true")
    } else if t.contains('T') {
        parse_schedule(&t).ok_or_else(|| {
            SweepError::usage(format!(
                "{origin}: '{t}' is neither an exact number nor a schedule (expected e.g. 10, \"0.5\", \"1/3\", \"10*T\", \"2*T^0.5\", \"3*sqrt(T)\")"
            ))
        })?
    } else if let Ok(i) = t.parse::<i64>() {
        ValueKind::Integer(i)
    } else {
        ValueKind::Exact(parse_decimal(&t).map_err(|e| SweepError::usage(format!("{origin}: {e}")))?)
    };
    Ok(AxisValue { text: t, kind })
}

fn parse_schedule(t: &str) -> Option<ValueKind> {
    let (c, rest) = match t.rfind('*') {
        Some(pos) => (parse_decimal(&t[..pos]).ok()?, &t[pos + 1..]),
        None => (BigRational::one(), t),
    };
    let beta = if rest == "T" {
        BigRational::one()
    } else if rest == "sqrt(T)" {
        BigRational::new(1.into(), 2.into())
    } else if let Some(b) = rest.strip_prefix("T^") {
        let b = b.strip_prefix('(').and_then(|s| s.strip_suffix(')')).unwrap_or(b);
        parse_decimal(b).ok()?
    } else {
        return None;
    };
    Some(ValueKind::Schedule { c, beta })
}

/// Reads the `[sweep]` table: each key a field (nested tables give dotted paths), each value an
/// array of values (or one value). `label` is the spec file for errors.
pub fn axes_from_table(sweep: &Value, label: &str) -> Result<Vec<Axis>, SweepError> {
    let Value::Table(table) = sweep else {
        return Err(SweepError::data(format!("{label}: field 'sweep': expected a table, got {}", type_name(sweep))));
    };
    let mut axes = Vec::new();
    collect_axes(table, "", label, &mut axes)?;
    Ok(axes)
}

fn collect_axes(table: &Table, prefix: &str, label: &str, axes: &mut Vec<Axis>) -> Result<(), SweepError> {
    for (key, value) in table {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let origin = format!("{label}: field 'sweep.{path}'");
        match value {
            Value::Table(sub) => collect_axes(sub, &path, label, axes)?,
            Value::Array(items) => {
                if items.is_empty() {
                    return Err(SweepError::data(format!("{origin}: empty list of values")));
                }
                let values = items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| {
                        let origin = format!("{label}: field 'sweep.{path}[{i}]'");
                        scalar_text(v, &origin).and_then(|t| parse_value(&t, &origin))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(SweepError::into_data)?;
                axes.push(Axis { field: canonical_field(&path), values });
            }
            other => {
                let t = scalar_text(other, &origin)?;
                axes.push(Axis { field: canonical_field(&path), values: vec![parse_value(&t, &origin).map_err(SweepError::into_data)?] });
            }
        }
    }
    Ok(())
}

fn scalar_text(v: &Value, origin: &str) -> Result<String, SweepError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Integer(i) => Ok(i.to_string()),
        Value::Boolean(b) => Ok(b.to_string()),
        Value::Float(x) => Err(SweepError::data(format!(
            "{origin}: TOML float {x} is not exact; write the number as a quoted string, e.g. \"{x}\""
        ))),
        other => Err(SweepError::data(format!("{origin}: expected a number or a schedule string, got {}", type_name(other)))),
    }
}


/// Parses `--set FIELD=V1,V2,...`.
pub fn axis_from_arg(arg: &str) -> Result<Axis, SweepError> {
    let origin = format!("--set '{arg}'");
    let Some((field, values)) = arg.split_once('=') else {
        return Err(SweepError::usage(format!("{origin}: expected FIELD=V1,V2,... (e.g. alpha=10,100)")));
    };
    if field.trim().is_empty() {
        return Err(SweepError::usage(format!("{origin}: empty field name")));
    }
    let values = values.split(',').map(|v| parse_value(v, &origin)).collect::<Result<Vec<_>, _>>()?;
    Ok(Axis { field: canonical_field(field), values })
}

/// Joins the spec's axes and the command line's (a command-line axis replaces the spec's axis
/// of the same field), checks them, and orders them by field name.
pub fn merge_axes(spec_axes: Vec<Axis>, cli_axes: Vec<Axis>) -> Result<Vec<Axis>, SweepError> {
    let mut axes: Vec<Axis> = spec_axes;
    for a in cli_axes {
        axes.retain(|b| b.field != a.field);
        axes.push(a);
    }
    axes.sort_by(|a, b| a.field.cmp(&b.field));
    for pair in axes.windows(2) {
        if pair[0].field == pair[1].field {
            return Err(SweepError::usage(format!("field '{}' is swept twice", pair[0].field)));
        }
    }
    for a in &axes {
        for (i, v) in a.values.iter().enumerate() {
            if a.values[..i].iter().any(|w| w.text == v.text) {
                return Err(SweepError::usage(format!("field '{}': value '{}' is listed twice", a.field, v.text)));
            }
            if matches!(v.kind, ValueKind::Schedule { .. }) && (a.field == "horizon" || a.field == "seed" || a.field == "width") {
                return Err(SweepError::usage(format!(
                    "field '{}': a schedule in T is allowed for numeric fields other than horizon, width and seed",
                    a.field
                )));
            }
        }
        if a.field.contains('"') || a.field.starts_with('.') || a.field.ends_with('.') || a.field.contains("..") {
            return Err(SweepError::usage(format!("field '{}': not a dotted path", a.field)));
        }
        if a.field == "sweep" || a.field.starts_with("sweep.") || a.field == "name" {
            return Err(SweepError::usage(format!("field '{}' cannot be swept", a.field)));
        }
    }
    Ok(axes)
}

/// One cell: a value for every axis.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Position in the grid (last axis fastest).
    pub index: usize,
    /// `(field, value)` in axis order.
    pub values: Vec<(String, AxisValue)>,
}

impl Cell {
    /// `field=value;field=value` in axis (field-name) order: identifies the cell in results.
    pub fn key(&self) -> String {
        if self.values.is_empty() {
            return "(base)".to_string();
        }
        self.values.iter().map(|(f, v)| format!("{f}={}", v.text)).collect::<Vec<_>>().join(";")
    }
}

/// The cartesian product, last axis varying fastest.
pub fn cells(axes: &[Axis]) -> Vec<Cell> {
    let total: usize = axes.iter().map(|a| a.values.len()).product();
    (0..total)
        .map(|index| {
            let mut rest = index;
            let mut values = vec![(String::new(), axes.first().map(|a| a.values[0].clone()).unwrap_or(AxisValue { text: String::new(), kind: ValueKind::Bool(false) })); axes.len()];
            for (k, a) in axes.iter().enumerate().rev() {
                let n = a.values.len();
                values[k] = (a.field.clone(), a.values[rest % n].clone());
                rest /= n;
            }
            Cell { index, values }
        })
        .collect()
}

/// The spec table of a cell: the base spec without `[sweep]`, the cell's values written in, and
/// `name` set to `BASE [KEY]`.
pub fn cell_table(base: &Table, base_name: &str, cell: &Cell) -> Result<Table, SweepError> {
    let mut table = base.clone();
    table.remove("sweep");
    let key = cell.key();
    let origin = |f: &str| format!("cell {key}: field '{f}'");
    // Plain values first (they may set the horizon), then schedules, then the seed (which needs
    // the final widths).
    for (field, v) in &cell.values {
        match (&v.kind, field.as_str()) {
            (ValueKind::Schedule { .. }, _) | (_, "seed") => {}
            (ValueKind::Integer(m), "width") => set_width(&mut table, *m).map_err(|e| SweepError::data(format!("{}: {e}", origin(field))))?,
            (_, "width") => return Err(SweepError::data(format!("{}: width must be an integer, got '{}'", origin(field), v.text))),
            (kind, _) => {
                let value = match kind {
                    ValueKind::Integer(i) => Value::Integer(*i),
                    ValueKind::Bool(b) => Value::Boolean(*b),
                    _ => Value::String(v.text.clone()),
                };
                set_path(&mut table, field, value).map_err(|e| SweepError::data(format!("{}: {e}", origin(field))))?;
            }
        }
    }
    // A learning rate only means something for gradient descent: sweeping it selects the method
    // unless the spec names one (then a flow spec with a learning rate is the spec's error).
    if cell.values.iter().any(|(f, _)| f == "training.learning_rate") {
        let training = table.get("training").and_then(Value::as_table);
        if !training.is_some_and(|t| t.contains_key("method")) {
            set_path(&mut table, "training.method", Value::String("gradient-descent".into())).map_err(|e| SweepError::data(format!("cell {key}: {e}")))?;
        }
    }
    for (field, v) in &cell.values {
        if let ValueKind::Schedule { c, beta } = &v.kind {
            let horizon = match table.get("horizon") {
                Some(Value::Integer(i)) => BigRational::from_integer((*i).into()),
                Some(Value::String(s)) => parse_decimal(s).map_err(|e| SweepError::data(format!("{}: horizon: {e}", origin(field))))?,
                _ => return Err(SweepError::data(format!("{}: the schedule '{}' needs a horizon", origin(field), v.text))),
            };
            let value = schedule_value(c, beta, &horizon)
                .ok_or_else(|| SweepError::data(format!("{}: '{}' is not a positive finite number at T = {}", origin(field), v.text, rational_to_string(&horizon))))?;
            set_path(&mut table, field, Value::String(value)).map_err(|e| SweepError::data(format!("{}: {e}", origin(field))))?;
        }
    }
    for (field, v) in &cell.values {
        if field == "seed" {
            let ValueKind::Integer(seed) = v.kind else {
                return Err(SweepError::data(format!("{}: seed must be an integer >= 0, got '{}'", origin(field), v.text)));
            };
            if seed < 0 {
                return Err(SweepError::data(format!("{}: seed must be an integer >= 0, got '{}'", origin(field), v.text)));
            }
            let weights = seeded_weights(&table, seed as u64).map_err(|e| SweepError::data(format!("{}: {e}", origin(field))))?;
            table.insert("weights".to_string(), Value::Table(weights));
        }
    }
    table.insert("name".to_string(), Value::String(format!("{base_name} [{key}]")));
    Ok(table)
}

/// `c * T^beta` as exact text when it is rational, else rounded to 17 significant digits (the
/// cell then uses exactly that decimal: results and certificates record the value used).
pub fn schedule_value(c: &BigRational, beta: &BigRational, t: &BigRational) -> Option<String> {
    if !t.is_positive() {
        return None;
    }
    if let Some(root) = exact_power(t, beta) {
        let v = c * root;
        return v.is_positive().then(|| decimal_text(&v));
    }
    let approx = c.to_f64()? * t.to_f64()?.powf(beta.to_f64()?);
    if !(approx.is_finite() && approx > 0.0) {
        return None;
    }
    Some(format!("{approx:.16e}"))
}

/// `t^beta` when it is rational: `beta = p/q` and `t` a perfect `q`-th power.
fn exact_power(t: &BigRational, beta: &BigRational) -> Option<BigRational> {
    let q = beta.denom().to_u32()?;
    let p = beta.numer().to_i32()?;
    if q > 64 || p.unsigned_abs() > 64 {
        return None;
    }
    let root = |n: &BigInt| {
        let r = n.nth_root(q);
        (r.pow(q) == *n).then_some(r)
    };
    let base = BigRational::new(root(t.numer())?, root(t.denom())?);
    let pw = num_traits::pow(base, p.unsigned_abs() as usize);
    Some(if p < 0 { pw.recip() } else { pw })
}

/// An exact rational as decimal text if it terminates, else `p/q` (both parse back exactly).
pub fn decimal_text(q: &BigRational) -> String {
    let mut d = q.denom().clone();
    let mut k2 = 0u32;
    let mut k5 = 0u32;
    let two = BigInt::from(2);
    let five = BigInt::from(5);
    while (&d % &two).is_zero() {
        d /= &two;
        k2 += 1;
    }
    while (&d % &five).is_zero() {
        d /= &five;
        k5 += 1;
    }
    if !d.is_one() {
        return rational_to_string(q);
    }
    let k = k2.max(k5);
    let scaled = q * BigRational::from_integer(num_traits::pow(BigInt::from(10), k as usize));
    let n = scaled.to_integer();
    if k == 0 {
        return n.to_string();
    }
    let neg = n.sign() == Sign::Minus;
    let mut digits = n.abs().to_string();
    while digits.len() <= k as usize {
        digits.insert(0, '0');
    }
    let point = digits.len() - k as usize;
    format!("{}{}.{}", if neg { "-" } else { "" }, &digits[..point], &digits[point..])
}

#[derive(Debug)]
enum Seg {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(pos) => (&part[..pos], &part[pos..]),
            None => (part, ""),
        };
        if name.is_empty() {
            return Err(format!("'{path}' is not a dotted path"));
        }
        segs.push(Seg::Key(name.to_string()));
        while !rest.is_empty() {
            let close = rest.find(']').ok_or_else(|| format!("'{path}': unclosed '['"))?;
            let idx: usize = rest[1..close].parse().map_err(|_| format!("'{path}': bad index '{}'", &rest[1..close]))?;
            segs.push(Seg::Index(idx));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("'{path}' is not a dotted path"));
            }
        }
    }
    Ok(segs)
}

/// Sets the value at a dotted path (creating missing tables; array elements must exist).
fn set_path(table: &mut Table, path: &str, value: Value) -> Result<(), String> {
    let segs = parse_path(path)?;
    let mut cur: &mut Value = table
        .entry(match &segs[0] {
            Seg::Key(k) => k.clone(),
            Seg::Index(_) => unreachable!(),
        })
        .or_insert_with(|| Value::Table(Table::new()));
    if segs.len() == 1 {
        *cur = value;
        return Ok(());
    }
    for seg in &segs[1..] {
        cur = match (seg, cur) {
            (Seg::Key(k), Value::Table(t)) => t.entry(k.clone()).or_insert_with(|| Value::Table(Table::new())),
            (Seg::Index(i), Value::Array(a)) => {
                let n = a.len();
                a.get_mut(*i).ok_or_else(|| format!("index {i} is out of range (the array has {n} elements)"))?
            }
            (Seg::Key(k), _) => return Err(format!("cannot set '{k}' inside a value that is not a table")),
            (Seg::Index(i), _) => return Err(format!("cannot index [{i}] a value that is not an array")),
        };
    }
    *cur = value;
    Ok(())
}

/// `width = m`: every hidden entry of `model.widths` becomes `m`.
fn set_width(table: &mut Table, m: i64) -> Result<(), String> {
    if m < 1 {
        return Err(format!("width must be >= 1, got {m}"));
    }
    let widths = table
        .get_mut("model")
        .and_then(|v| v.as_table_mut())
        .and_then(|t| t.get_mut("widths"))
        .and_then(|v| v.as_array_mut())
        .ok_or("width needs model.kind = \"mlp\" with model.widths")?;
    let n = widths.len();
    if n < 3 {
        return Err("width needs a hidden layer (model.widths has fewer than 3 entries)".into());
    }
    for w in widths.iter_mut().take(n - 1).skip(1) {
        *w = Value::Integer(m);
    }
    Ok(())
}

/// Denominator of the seeded weights: `2^20`.
pub const SEED_DENOMINATOR: i64 = 1 << 20;

/// `seed = s`: inline initial weights `w0` for an MLP, deterministic in `s`. Element `i` of the
/// flat parameter vector is `k_i / 2^20` (exact) with
/// `k_i = 2 (u1 + u2 + u3) - 3 (2^20 - 1)`, where `u1, u2, u3` are the top 20 bits of three
/// successive outputs of SplitMix64 seeded with `s`: a symmetric, roughly Gaussian value with
/// mean 0 and variance about 1, in `(-3, 3)`. The number of parameters follows `model.widths`
/// and `model.bias`.
pub fn seeded_weights(table: &Table, seed: u64) -> Result<Table, String> {
    let model = table.get("model").and_then(|v| v.as_table()).ok_or("seed needs a [model] table")?;
    if model.get("kind").and_then(|v| v.as_str()) != Some("mlp") {
        return Err("seed needs model.kind = \"mlp\" (it draws the initial weights)".into());
    }
    let widths: Vec<i64> = model
        .get("widths")
        .and_then(|v| v.as_array())
        .ok_or("seed needs model.widths")?
        .iter()
        .map(|v| v.as_integer().filter(|&w| w >= 1).ok_or("model.widths must hold integers >= 1"))
        .collect::<Result<_, _>>()?;
    let bias = model.get("bias").and_then(|v| v.as_bool()).unwrap_or(false) as i64;
    let p: i64 = widths.windows(2).map(|w| w[1] * (w[0] + bias)).sum();
    if p > 50_000_000 {
        return Err(format!("too many parameters for inline seeded weights ({p})"));
    }
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) >> 44
    };
    let values: Vec<Value> = (0..p)
        .map(|_| {
            let k = 2 * (next() + next() + next()) as i64 - 3 * (SEED_DENOMINATOR - 1);
            Value::String(format!("{k}/{SEED_DENOMINATOR}"))
        })
        .collect();
    let mut w = Table::new();
    w.insert("source".into(), Value::String("inline".into()));
    w.insert("values".into(), Value::Array(values));
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--set regularization=...` (or `lambda`) sweeps `[training] regularization`, written into
    /// each cell's spec as the exact value.
    #[test]
    fn regularization_alias_sets_the_training_table() {
        assert_eq!(canonical_field("regularization"), "training.regularization");
        assert_eq!(canonical_field("lambda"), "training.regularization");
        let base: Table = "alpha = 10\nhorizon = 1\n".parse().unwrap();
        let cell = Cell { index: 0, values: vec![("training.regularization".to_string(), parse_value("0.1", "--set").unwrap())] };
        let table = cell_table(&base, "b", &cell).unwrap();
        assert_eq!(table["training"]["regularization"].as_str(), Some("0.1"));
    }

    /// `--set learning_rate=...` (or `eta`) sweeps `[training] learning_rate` and selects gradient
    /// descent unless the spec names a method.
    #[test]
    fn learning_rate_alias_selects_gradient_descent() {
        assert_eq!(canonical_field("eta"), "training.learning_rate");
        let cell = Cell { index: 0, values: vec![("training.learning_rate".to_string(), parse_value("0.25", "--set").unwrap())] };
        let base: Table = "alpha = 10\nhorizon = 1\n".parse().unwrap();
        let table = cell_table(&base, "b", &cell).unwrap();
        assert_eq!(table["training"]["learning_rate"].as_str(), Some("0.25"));
        assert_eq!(table["training"]["method"].as_str(), Some("gradient-descent"));
        let flow: Table = "alpha = 10\nhorizon = 1\n[training]\nmethod = \"gradient-flow\"\n".parse().unwrap();
        assert_eq!(cell_table(&flow, "b", &cell).unwrap()["training"]["method"].as_str(), Some("gradient-flow"));
    }

    #[test]
    fn schedules() {
        let v = parse_value("10*T^0.5", "x").unwrap();
        let ValueKind::Schedule { c, beta } = v.kind else { panic!() };
        assert_eq!(schedule_value(&c, &beta, &BigRational::from_integer(16.into())).unwrap(), "40");
        assert_eq!(schedule_value(&c, &beta, &BigRational::from_integer(2.into())).unwrap(), "1.4142135623730951e1");
        let v = parse_value("3*sqrt(T)", "x").unwrap();
        assert!(matches!(v.kind, ValueKind::Schedule { .. }));
        assert_eq!(parse_value("T", "x").unwrap().kind, ValueKind::Schedule { c: BigRational::one(), beta: BigRational::one() });
        assert!(parse_value("10*X", "x").is_err());
        assert_eq!(decimal_text(&parse_decimal("0.125").unwrap()), "0.125");
        assert_eq!(decimal_text(&parse_decimal("-1/40").unwrap()), "-0.025");
        assert_eq!(decimal_text(&parse_decimal("1/3").unwrap()), "1/3");
    }

    #[test]
    fn product_order_and_keys() {
        let axes = merge_axes(
            vec![axis_from_arg("horizon=1,2").unwrap()],
            vec![axis_from_arg("alpha=10,T").unwrap()],
        )
        .unwrap();
        let cs = cells(&axes);
        let keys: Vec<String> = cs.iter().map(|c| c.key()).collect();
        assert_eq!(keys, ["alpha=10;horizon=1", "alpha=10;horizon=2", "alpha=T;horizon=1", "alpha=T;horizon=2"]);
    }
}
