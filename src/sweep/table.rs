//! `ntkcert table`: results as LaTeX (booktabs), Markdown or CSV. Enclosures are printed with
//! outward rounding ([`super::decimal`]); theory bounds (upper bounds) are rounded up; exact
//! inputs are printed exactly when short, else to nearest with a `~` / `\approx` mark.

use super::decimal::{self, Style};
use super::grid::{self, ValueKind};
use super::results::{read_all, Endpoints, Row};
use super::{SweepError, TableArgs};
use crate::arith::rational::f64_to_rational;
use num_rational::BigRational;
use num_traits::{Signed, Zero};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Latex,
    Markdown,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, SweepError> {
        match s {
            "latex" | "tex" => Ok(Format::Latex),
            "markdown" | "md" => Ok(Format::Markdown),
            "csv" => Ok(Format::Csv),
            other => Err(SweepError::usage(format!("--format '{other}': expected latex, markdown or csv"))),
        }
    }
}

pub const DEFAULT_COLUMNS: &str = "alpha,T,kappa,supD,sharpened,gronwall_t2,supD/sharpened";

const BOUNDS: &[(&str, &str, &str)] = &[
    ("trivial", "F3 trivial", "F3 $\\sqrt{8R_0}$"),
    ("published", "F4 published", "F4 (published)"),
    ("sharpened", "F5 sharpened", "F5 (sharpened)"),
    ("gronwall_t2", "F6 O(T^2)", "F6 $O(T^2)$"),
    ("regularized", "F8 regularized", "F8 (regularised)"),
    ("gradient_descent", "F9 gradient descent", "F9 (gradient descent)"),
];

/// What a column shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// An exact input: `alpha`, `horizon`, `tolerance`.
    Input(&'static str),
    /// A text field of the row: name, verdict, key, steps, num_params.
    Text(&'static str),
    /// A swept field's value as written.
    Swept(String),
    /// An enclosure at a JSON path.
    Interval(&'static str, Vec<&'static str>),
    /// A theory bound (an upper bound of sup D): printed rounded up.
    Bound(&'static str),
    /// Quotient of two quantities (enclosure or bound), printed outward.
    Ratio(Box<Column>, Box<Column>),
}

fn interval_column(name: &str) -> Option<Column> {
    Some(match name {
        "kappa" => Column::Interval("kappa", vec!["theory", "kappa"]),
        "supD" => Column::Interval("supD", vec!["sup_deviation"]),
        "DT" => Column::Interval("DT", vec!["final_deviation"]),
        "R0" => Column::Interval("R0", vec!["r0"]),
        _ => return None,
    })
}

fn bound_column(name: &str) -> Option<Column> {
    BOUNDS.iter().find(|b| b.0 == name).map(|b| Column::Bound(b.0))
}

/// Parses one column name.
pub fn parse_column(name: &str, swept: &[String]) -> Result<Column, SweepError> {
    let n = name.trim();
    if let Some((a, b)) = n.split_once('/') {
        let part = |x: &str| {
            interval_column(x.trim()).or_else(|| bound_column(x.trim())).ok_or_else(|| {
                SweepError::usage(format!("--columns: '{n}': a ratio needs two of kappa, supD, DT, R0, trivial, published, sharpened, gronwall_t2, regularized, gradient_descent"))
            })
        };
        return Ok(Column::Ratio(Box::new(part(a)?), Box::new(part(b)?)));
    }
    if let Some(c) = interval_column(n).or_else(|| bound_column(n)) {
        return Ok(c);
    }
    Ok(match n {
        "alpha" => Column::Input("alpha"),
        "T" | "horizon" => Column::Input("horizon"),
        "eps" | "tolerance" => Column::Input("tolerance"),
        "name" => Column::Text("name"),
        "verdict" => Column::Text("verdict"),
        "key" => Column::Text("key"),
        "steps" => Column::Text("steps"),
        "p" => Column::Text("num_params"),
        other if other.strip_prefix("sweep.").is_some_and(|f| swept.iter().any(|s| s == f)) => {
            Column::Swept(other["sweep.".len()..].to_string())
        }
        other if swept.iter().any(|s| s == other) => Column::Swept(other.to_string()),
        "lambda" | "regularization" if swept.iter().any(|s| s == "training.regularization") => Column::Swept("training.regularization".to_string()),
        "eta" | "learning_rate" if swept.iter().any(|s| s == "training.learning_rate") => Column::Swept("training.learning_rate".to_string()),
        "Q" | "reference_order" if swept.iter().any(|s| s == "training.reference_order") => Column::Swept("training.reference_order".to_string()),
        other => {
            return Err(SweepError::usage(format!(
                "--columns: unknown column '{other}' (expected alpha, T, eps, p, name, verdict, key, steps, kappa, R0, supD, DT, trivial, published, sharpened, gronwall_t2, regularized, gradient_descent, A/B ratios of those, lambda or eta when swept, or a swept field as written, sweep.FIELD: {})",
                if swept.is_empty() { "none".to_string() } else { swept.join(", ") }
            )))
        }
    })
}

fn plain_header(c: &Column) -> String {
    match c {
        Column::Input("alpha") => "alpha".into(),
        Column::Input("horizon") => "T".into(),
        Column::Input(_) => "eps".into(),
        Column::Text("num_params") => "p".into(),
        Column::Text(t) => t.to_string(),
        Column::Swept(f) => match f.as_str() {
            "alpha" => "alpha (schedule)".into(),
            "horizon" => "T (swept)".into(),
            "training.regularization" => "lambda".into(),
            "training.learning_rate" => "eta".into(),
            "training.reference_order" => "Q".into(),
            other => other.to_string(),
        },
        Column::Interval("supD", _) => "sup D".into(),
        Column::Interval("DT", _) => "D(T)".into(),
        Column::Interval(n, _) => n.to_string(),
        Column::Bound(k) => BOUNDS.iter().find(|b| b.0 == *k).map_or(k.to_string(), |b| b.1.to_string()),
        Column::Ratio(a, b) => format!("{} / {}", short(a), short(b)),
    }
}

fn short(c: &Column) -> String {
    match c {
        Column::Interval("supD", _) => "sup D".into(),
        Column::Interval(n, _) => n.to_string(),
        Column::Bound(k) => BOUNDS.iter().find(|b| b.0 == *k).map_or(k.to_string(), |b| b.1.split(' ').next().unwrap_or(k).to_string()),
        other => plain_header(other),
    }
}

fn csv_header(c: &Column) -> String {
    match c {
        Column::Input("horizon") => "T".into(),
        Column::Input(n) => n.to_string(),
        Column::Text(t) => t.to_string(),
        Column::Swept(f) => f.clone(),
        Column::Interval(n, _) => n.to_string(),
        Column::Bound(k) => k.to_string(),
        Column::Ratio(a, b) => format!("{}/{}", csv_header(a), csv_header(b)),
    }
}

fn latex_header(c: &Column) -> String {
    match c {
        Column::Input("alpha") => "$\\alpha$".into(),
        Column::Input("horizon") => "$T$".into(),
        Column::Input(_) => "$\\varepsilon$".into(),
        Column::Text("num_params") => "$p$".into(),
        Column::Text(t) => latex_escape(t),
        Column::Swept(f) => match f.as_str() {
            "alpha" => "$\\alpha$ (schedule)".into(),
            "horizon" => "$T$ (swept)".into(),
            "training.regularization" => "$\\lambda$".into(),
            "training.learning_rate" => "$\\eta$".into(),
            other => format!("\\texttt{{{}}}", latex_escape(other)),
        },
        Column::Interval("kappa", _) => "$\\kappa$".into(),
        Column::Interval("supD", _) => "$\\sup_{t\\le T} D(t)$".into(),
        Column::Interval("DT", _) => "$D(T)$".into(),
        Column::Interval("R0", _) => "$R_0$".into(),
        Column::Interval(n, _) => latex_escape(n),
        Column::Bound(k) => BOUNDS.iter().find(|b| b.0 == *k).map_or(latex_escape(k), |b| b.2.to_string()),
        Column::Ratio(a, b) => format!("{} / {}", latex_short(a), latex_short(b)),
    }
}

fn latex_short(c: &Column) -> String {
    match c {
        Column::Interval("supD", _) => "$\\sup D$".into(),
        Column::Bound(k) => BOUNDS.iter().find(|b| b.0 == *k).map_or(latex_escape(k), |b| b.1.split(' ').next().unwrap_or(k).to_string()),
        other => latex_header(other),
    }
}

pub fn latex_escape(s: &str) -> String {
    let mut out = String::new();
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            c => out.push(c),
        }
    }
    out
}

/// A quantity of a row: an enclosure (exact rational endpoints; `None` = infinite) or an upper
/// bound.
enum Quantity {
    Enclosure(Option<BigRational>, Option<BigRational>),
    Upper(Option<BigRational>),
}

fn rational(x: f64) -> Option<BigRational> {
    x.is_finite().then(|| f64_to_rational(x))
}

fn quantity(row: &Row, c: &Column) -> Option<Quantity> {
    match c {
        Column::Interval(_, path) => {
            let Endpoints { lo, hi } = row.interval(path)?;
            Some(Quantity::Enclosure(rational(lo), rational(hi)))
        }
        Column::Bound(k) => Some(Quantity::Upper(rational(row.bound(k)?))),
        _ => None,
    }
}

/// `a / b` enclosed, for `a >= 0` and `b > 0` (every quantity here is a norm or a bound). An
/// upper bound `u` of a quantity is the enclosure `[0, u]` as numerator; as denominator it is
/// the known value `u` (the bound itself is the compared number).
fn ratio(a: &Quantity, b: &Quantity) -> Option<(Option<BigRational>, Option<BigRational>)> {
    let (alo, ahi) = match a {
        Quantity::Enclosure(l, h) => (l.clone()?, h.clone()),
        Quantity::Upper(u) => (BigRational::zero(), u.clone()),
    };
    let (blo, bhi) = match b {
        Quantity::Enclosure(l, h) => (l.clone()?, h.clone()),
        Quantity::Upper(u) => (u.clone()?, u.clone()),
    };
    if alo.is_negative() || !blo.is_positive() {
        return None;
    }
    let lo = match &bhi {
        Some(bh) => alo / bh,
        None => BigRational::zero(),
    };
    let hi = ahi.map(|ah| ah / blo);
    Some((Some(lo), hi))
}

/// Cell text(s): one entry, or two (lo, hi) for enclosures in CSV.
fn render(row: &Row, c: &Column, digits: usize, format: Format) -> Vec<String> {
    let style = if format == Format::Latex { Style::Latex } else { Style::Plain };
    let math = |s: String| if format == Format::Latex && s != "--" { format!("${s}$") } else { s };
    let missing = || if format == Format::Csv { String::new() } else { "--".to_string() };
    let pair = |lo: Option<&BigRational>, hi: Option<&BigRational>| -> Vec<String> {
        if format == Format::Csv {
            let (l, h, shared) = decimal::interval_parts(lo, hi, digits, Style::Plain);
            let with = |t: String| if shared == 0 || t.contains("inf") || t == "0" { t } else { format!("{t}e{shared}") };
            vec![with(l), with(h)]
        } else {
            vec![math(decimal::rational_interval_text(lo, hi, digits, style))]
        }
    };
    match c {
        Column::Input(name) => vec![match row.exact(name) {
            Some(q) => math(decimal::input_text(&q, digits, style)),
            None => missing(),
        }],
        Column::Text(name) => {
            let v = row.value.get(*name).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string)).unwrap_or_default();
            vec![if format == Format::Latex { latex_escape(&v) } else { v }]
        }
        Column::Swept(f) => {
            let v = row.swept(f).unwrap_or("").to_string();
            vec![if format == Format::Latex { latex_value(&v) } else { v }]
        }
        Column::Interval(..) => match quantity(row, c) {
            Some(Quantity::Enclosure(lo, hi)) => pair(lo.as_ref(), hi.as_ref()),
            _ => if format == Format::Csv { vec![missing(), missing()] } else { vec![missing()] },
        },
        Column::Bound(_) => vec![match quantity(row, c) {
            Some(Quantity::Upper(Some(u))) => math(decimal::rational_text(&u, digits, decimal::Dir::Up, style)),
            Some(Quantity::Upper(None)) => math(decimal::f64_text(f64::INFINITY, digits, decimal::Dir::Up, style)),
            _ => missing(),
        }],
        Column::Ratio(a, b) => match (quantity(row, a), quantity(row, b)) {
            (Some(qa), Some(qb)) => match ratio(&qa, &qb) {
                Some((lo, hi)) => pair(lo.as_ref(), hi.as_ref()),
                None => if format == Format::Csv { vec![missing(), missing()] } else { vec![missing()] },
            },
            _ => if format == Format::Csv { vec![missing(), missing()] } else { vec![missing()] },
        },
    }
}

/// A swept value for LaTeX: schedules as math (`$10\,T^{0.5}$`), numbers as they are.
pub(super) fn latex_value(v: &str) -> String {
    match grid::parse_value(v, "") {
        Ok(grid::AxisValue { kind: ValueKind::Schedule { c, beta }, .. }) => {
            let c_text = if c == num_rational::BigRational::from_integer(1.into()) { String::new() } else { format!("{}\\,", grid::decimal_text(&c)) };
            let t = if beta == BigRational::from_integer(1.into()) {
                "T".to_string()
            } else if beta == BigRational::new(1.into(), 2.into()) {
                "\\sqrt{T}".to_string()
            } else {
                format!("T^{{{}}}", grid::decimal_text(&beta))
            };
            format!("${c_text}{t}$")
        }
        _ => latex_escape(v),
    }
}

/// Builds the table text.
pub fn table_text(rows: &[Row], columns: &[Column], digits: usize, format: Format) -> String {
    let headers: Vec<Header> = columns.iter().map(|c| Header::of(c, None)).collect();
    let cells: Vec<Vec<Vec<String>>> = rows.iter().map(|r| columns.iter().map(|c| render(r, c, digits, format)).collect()).collect();
    layout(&headers, &cells, format)
}

/// A column's header in the three formats, and whether its cells are enclosures (two CSV
/// fields, `_lo` and `_hi`).
struct Header {
    plain: String,
    latex: String,
    csv: String,
    interval: bool,
}

impl Header {
    /// The header of `c`, with `(FIELD = VALUE)` appended for a pivoted column.
    fn of(c: &Column, pivot: Option<(&str, &str)>) -> Header {
        let suffix = |h: String| match pivot {
            None => h,
            Some((field, value)) => format!("{h} ({field}={value})"),
        };
        Header {
            plain: suffix(plain_header(c)),
            latex: suffix(latex_header(c)),
            csv: suffix(csv_header(c)),
            interval: matches!(c, Column::Interval(..) | Column::Ratio(..)),
        }
    }
}

/// Lays out rendered cells (`cells[row][column]`, one string per CSV field) in `format`.
fn layout(headers: &[Header], cells: &[Vec<Vec<String>>], format: Format) -> String {
    let mut out = String::new();
    match format {
        Format::Csv => {
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            let mut header = Vec::new();
            for h in headers {
                if h.interval {
                    header.push(format!("{}_lo", h.csv));
                    header.push(format!("{}_hi", h.csv));
                } else {
                    header.push(h.csv.clone());
                }
            }
            let _ = w.write_record(&header);
            for row in cells {
                let rec: Vec<String> = row.iter().flatten().cloned().collect();
                let _ = w.write_record(&rec);
            }
            out = String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default();
        }
        Format::Markdown => {
            let header: Vec<&str> = headers.iter().map(|h| h.plain.as_str()).collect();
            out.push_str(&format!("| {} |\n", header.join(" | ")));
            out.push_str(&format!("|{}\n", headers.iter().map(|_| "---:|").collect::<String>()));
            for row in cells {
                let texts: Vec<String> = row.iter().map(|c| c.join(" ").replace('|', "\\|").replace('*', "\\*")).collect();
                out.push_str(&format!("| {} |\n", texts.join(" | ")));
            }
        }
        Format::Latex => {
            out.push_str("% Generated by ntkcert table. Every enclosure is printed with outward rounding and every\n");
            out.push_str("% bound rounded up (proofs/printed-intervals.md); needs \\usepackage{booktabs}.\n");
            out.push_str(&format!("\\begin{{tabular}}{{{}}}\n\\toprule\n", "r".repeat(headers.len())));
            let header: Vec<&str> = headers.iter().map(|h| h.latex.as_str()).collect();
            out.push_str(&format!("{} \\\\\n\\midrule\n", header.join(" & ")));
            for row in cells {
                let texts: Vec<String> = row.iter().map(|c| c.join(" ")).collect();
                out.push_str(&format!("{} \\\\\n", texts.join(" & ")));
            }
            out.push_str("\\bottomrule\n\\end{tabular}\n");
        }
    }
    out
}

/// The table with one set of value columns per value of the swept field `pivot` (`table
/// --pivot`): rows are the groups of results that agree on every other swept field (first-seen
/// order); the inputs and swept fields among `columns` are shown once per group, every other
/// column once per pivot value (a missing cell is `-`, two fields in CSV for enclosures).
pub fn pivot_text(rows: &[Row], columns: &[Column], pivot: &str, digits: usize, format: Format) -> String {
    let swept_value = |r: &Row, field: &str| -> String { r.value.get("values").and_then(|v| v.get(field)).map_or(String::new(), |v| v.to_string()) };
    let group_key = |r: &Row| -> String {
        match r.value.get("values") {
            Some(serde_json::Value::Object(m)) => m.iter().filter(|(k, _)| *k != pivot).map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(";"),
            _ => String::new(),
        }
    };
    let mut pivots: Vec<String> = Vec::new();
    let mut groups: Vec<(String, Vec<&Row>)> = Vec::new();
    for r in rows {
        let v = swept_value(r, pivot);
        if !pivots.contains(&v) {
            pivots.push(v);
        }
        let key = group_key(r);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(r),
            None => groups.push((key, vec![r])),
        }
    }
    let describes_group = |c: &Column| matches!(c, Column::Input(_)) || matches!(c, Column::Swept(f) if f != pivot);
    let (fixed, varying): (Vec<&Column>, Vec<&Column>) = columns.iter().filter(|c| !matches!(c, Column::Swept(f) if f == pivot)).partition(|c| describes_group(c));
    let shown = |v: &str| v.trim_matches('"').to_string();
    let field_name = plain_header(&Column::Swept(pivot.to_string()));
    let mut headers: Vec<Header> = fixed.iter().map(|c| Header::of(c, None)).collect();
    for v in &pivots {
        headers.extend(varying.iter().map(|c| Header::of(c, Some((&field_name, &shown(v))))));
    }
    let cells: Vec<Vec<Vec<String>>> = groups
        .iter()
        .map(|(_, members)| {
            let mut row: Vec<Vec<String>> = fixed.iter().map(|c| render(members[0], c, digits, format)).collect();
            for v in &pivots {
                let member = members.iter().find(|r| swept_value(r, pivot) == *v);
                for c in &varying {
                    row.push(match member {
                        Some(r) => render(r, c, digits, format),
                        None if format == Format::Csv && Header::of(c, None).interval => vec!["-".into(), "-".into()],
                        None => vec!["-".into()],
                    });
                }
            }
            row
        })
        .collect();
    layout(&headers, &cells, format)
}

/// The swept fields present in the rows, in first-seen order.
pub fn swept_fields(rows: &[Row]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        if let Some(serde_json::Value::Object(m)) = r.value.get("values") {
            for k in m.keys() {
                if !out.contains(k) {
                    out.push(k.clone());
                }
            }
        }
    }
    out
}

pub(super) fn cli(args: &TableArgs) -> Result<(), SweepError> {
    let format = Format::parse(&args.format)?;
    if args.digits == 0 || args.digits > 30 {
        return Err(SweepError::usage(format!("--digits {}: expected 1 to 30", args.digits)));
    }
    let rows = read_all(&args.results)?;
    if !args.no_check {
        for r in &rows {
            r.check_certificate().map_err(|e| SweepError::data(format!("cell {}: {e} (use --no-check to skip this check)", r.key())))?;
        }
    }
    let swept = swept_fields(&rows);
    let columns = args
        .columns
        .as_deref()
        .unwrap_or(DEFAULT_COLUMNS)
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|c| parse_column(c, &swept))
        .collect::<Result<Vec<_>, _>>()?;
    if columns.is_empty() {
        return Err(SweepError::usage("--columns: no columns"));
    }
    let text = match &args.pivot {
        None => table_text(&rows, &columns, args.digits, format),
        Some(name) => match parse_column(name, &swept)? {
            Column::Swept(field) => pivot_text(&rows, &columns, &field, args.digits, format),
            _ => return Err(SweepError::usage(format!("--pivot {name}: not a swept field (swept: {})", if swept.is_empty() { "none".to_string() } else { swept.join(", ") }))),
        },
    };
    match &args.out {
        Some(path) => crate::certificate::write_atomically(path, text.as_bytes())
            .map_err(|e| SweepError::cant_create(format!("cannot write '{}': {e}", path.display())))?,
        None => print!("{text}"),
    }
    Ok(())
}
