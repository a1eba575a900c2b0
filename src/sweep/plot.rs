//! `ntkcert plot`: log-log `sup D` against `T`, one series per value of the other swept fields
//! (e.g. one per alpha schedule), with the theory bounds as dashed curves in the same colour.
//! SVG through plotters, or a pgfplots `.tex` file of `\addplot table` data.
//!
//! Plotted `sup D` is the upper end of its certified enclosure; the pgfplots data carries both
//! ends, printed outward ([`super::decimal`]), and the bounds rounded up.

use super::decimal::{self, Dir, Style};
use super::results::{read_all, Row};
use super::{PlotArgs, SweepError};
use num_traits::ToPrimitive;

/// One series: the rows sharing the values of every swept field but the horizon.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    /// `(T, sup D lo, sup D hi, bounds in the order asked)`, by increasing T.
    pub points: Vec<(f64, f64, f64, Vec<f64>)>,
    /// The exact T of each point, as text.
    pub t_text: Vec<String>,
}

/// Groups rows into series. Rows without a finite enclosure of sup D are left out (counted).
pub fn series(rows: &[Row], bounds: &[String]) -> (Vec<Series>, usize) {
    let mut out: Vec<Series> = Vec::new();
    let mut skipped = 0;
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| r.index());
    for r in sorted {
        let label = match r.value.get("values").and_then(|v| v.as_object()) {
            Some(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .filter(|(k, _)| k.as_str() != "horizon")
                    .map(|(k, v)| format!("{k} = {}", v.as_str().unwrap_or("")))
                    .collect();
                if parts.is_empty() { "sup D".to_string() } else { parts.join(", ") }
            }
            None => "sup D".to_string(),
        };
        let (Some(t), Some(sd)) = (r.exact("horizon"), r.interval(&["sup_deviation"])) else {
            skipped += 1;
            continue;
        };
        let tf = t.to_f64().unwrap_or(f64::NAN);
        if !(tf > 0.0 && sd.hi.is_finite() && sd.hi > 0.0) {
            skipped += 1;
            continue;
        }
        let bs: Vec<f64> = bounds.iter().map(|b| r.bound(b).unwrap_or(f64::NAN)).collect();
        // pgfplots reads decimals, not fractions.
        let t_text = match super::grid::decimal_text(&t) {
            exact if !exact.contains('/') => exact,
            _ => decimal::rational_text(&t, 12, Dir::Nearest, Style::Plain),
        };
        match out.iter_mut().find(|s| s.label == label) {
            Some(s) => {
                s.points.push((tf, sd.lo, sd.hi, bs));
                s.t_text.push(t_text);
            }
            None => out.push(Series { label, points: vec![(tf, sd.lo, sd.hi, bs)], t_text: vec![t_text] }),
        }
    }
    for s in &mut out {
        let mut idx: Vec<usize> = (0..s.points.len()).collect();
        idx.sort_by(|&a, &b| s.points[a].0.total_cmp(&s.points[b].0));
        s.points = idx.iter().map(|&i| s.points[i].clone()).collect();
        s.t_text = idx.iter().map(|&i| s.t_text[i].clone()).collect();
    }
    (out, skipped)
}

fn bound_label(key: &str) -> &'static str {
    match key {
        "trivial" => "F3 trivial bound sqrt(8 R0)",
        "published" => "F4 published bound",
        "sharpened" => "F5 sharpened bound",
        "gronwall_t2" => "F6 O(T^2) comparator",
        _ => "bound",
    }
}

fn bound_label_tex(key: &str) -> &'static str {
    match key {
        "trivial" => "F3 $\\sqrt{8R_0}$",
        "published" => "F4 published",
        "sharpened" => "F5 sharpened",
        "gronwall_t2" => "F6 $O(T^2)$",
        _ => "bound",
    }
}

const COLOURS: &[(u8, u8, u8, &str)] = &[
    (31, 119, 180, "blue"),
    (214, 39, 40, "red"),
    (44, 160, 44, "teal"),
    (255, 127, 14, "orange"),
    (148, 103, 189, "violet"),
    (140, 86, 75, "brown"),
    (0, 0, 0, "black"),
];

/// A tick label: `0.01`, `1`, `100` in the middle range, `1e-4`, `1e5` outside it.
fn tick(v: f64) -> String {
    if (1e-3..1e5).contains(&v) {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{v:.0e}")
    }
}

/// Renders the SVG text.
pub fn svg(series: &[Series], bounds: &[String], title: &str) -> Result<String, String> {
    use plotters::prelude::*;
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (960, 640)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for s in series {
            for (t, lo, hi, bs) in &s.points {
                xs.push(*t);
                ys.push(*hi);
                if *lo > 0.0 {
                    ys.push(*lo);
                }
                ys.extend(bs.iter().copied().filter(|b| b.is_finite() && *b > 0.0));
            }
        }
        if xs.is_empty() {
            return Err("nothing to plot (no cell with a finite enclosure of sup D)".into());
        }
        let (x0, x1) = (xs.iter().copied().fold(f64::MAX, f64::min), xs.iter().copied().fold(0.0, f64::max));
        let (y0, y1) = (ys.iter().copied().fold(f64::MAX, f64::min), ys.iter().copied().fold(0.0, f64::max));
        let (x0, x1) = (x0 / 1.5, x1 * 1.5);
        let (y0, y1) = (y0 / 3.0, y1 * 3.0);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("T (training time)")
            .y_desc("sup_{t<=T} D(t)")
            .x_label_formatter(&|v| tick(*v))
            .y_label_formatter(&|v| tick(*v))
            .label_style(("sans-serif", 15))
            .draw()
            .map_err(|e| e.to_string())?;
        let dash = |k: usize| -> (u32, u32) {
            match k {
                0 => (10, 6),
                1 => (3, 5),
                2 => (16, 4),
                _ => (6, 3),
            }
        };
        for (i, s) in series.iter().enumerate() {
            let (r, g, b, _) = COLOURS[i % COLOURS.len()];
            let colour = RGBColor(r, g, b);
            let pts: Vec<(f64, f64)> = s.points.iter().map(|p| (p.0, p.2)).collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(3)))
                .map_err(|e| e.to_string())?
                .label(format!("certified sup D, {}", s.label))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], colour.stroke_width(3)));
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 5, colour.filled())))
                .map_err(|e| e.to_string())?;
            for (k, _) in bounds.iter().enumerate() {
                let bpts: Vec<(f64, f64)> =
                    s.points.iter().filter(|p| p.3[k].is_finite() && p.3[k] > 0.0).map(|p| (p.0, p.3[k])).collect();
                let (d, g) = dash(k);
                chart
                    .draw_series(DashedLineSeries::new(bpts, d, g, colour.stroke_width(2)))
                    .map_err(|e| e.to_string())?;
            }
        }
        for (k, key) in bounds.iter().enumerate() {
            let (d, g) = dash(k);
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(|e| e.to_string())?
                .label(format!("{} (same colour)", bound_label(key)))
                .legend(move |(x, y)| plotters::element::DashedPathElement::new(vec![(x, y), (x + 24, y)], d, g, BLACK.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(buf)
}

/// The pgfplots text: one `\addplot table` per series and per bound.
pub fn pgfplots(series: &[Series], bounds: &[String], title: &str) -> String {
    let mut s = String::new();
    s.push_str("% Generated by ntkcert plot --format pgfplots. supD_lo/supD_hi enclose the certified sup D\n");
    s.push_str("% (printed outward, proofs/printed-intervals.md); bounds are rounded up. Needs \\usepackage{pgfplots}.\n");
    s.push_str("\\begin{tikzpicture}\n\\begin{loglogaxis}[\n  width=12cm, height=8cm,\n");
    s.push_str(&format!("  title={{{}}},\n", super::table::latex_escape(title)));
    s.push_str("  xlabel={$T$}, ylabel={$\\sup_{t\\le T} D(t)$},\n  legend pos=outer north east, legend cell align=left,\n]\n");
    let dashes = ["dashed", "dotted", "densely dashed", "dashdotted"];
    for (i, se) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()].3;
        s.push_str(&format!("% series: {}\n", se.label));
        s.push_str(&format!("\\addplot[color={colour}, mark=*, thick] table[x=T, y=supD_hi] {{\nT supD_lo supD_hi\n"));
        for (p, t) in se.points.iter().zip(&se.t_text) {
            s.push_str(&format!(
                "{} {} {}\n",
                t,
                decimal::f64_text(p.1, 6, Dir::Down, Style::Plain),
                decimal::f64_text(p.2, 6, Dir::Up, Style::Plain)
            ));
        }
        s.push_str("};\n");
        s.push_str(&format!("\\addlegendentry{{sup $D$, {}}}\n", tex_label(&se.label)));
        for k in 0..bounds.len() {
            s.push_str(&format!("\\addplot[color={colour}, {}, forget plot] table[x=T, y=bound] {{\nT bound\n", dashes[k % dashes.len()]));
            for (p, t) in se.points.iter().zip(&se.t_text) {
                if p.3[k].is_finite() && p.3[k] > 0.0 {
                    s.push_str(&format!("{} {}\n", t, decimal::f64_text(p.3[k], 6, Dir::Up, Style::Plain)));
                }
            }
            s.push_str("};\n");
        }
    }
    for (k, key) in bounds.iter().enumerate() {
        s.push_str(&format!("\\addlegendimage{{black, {}}}\n\\addlegendentry{{{} (same colour)}}\n", dashes[k % dashes.len()], bound_label_tex(key)));
    }
    s.push_str("\\end{loglogaxis}\n\\end{tikzpicture}\n");
    s
}

fn tex_label(label: &str) -> String {
    label
        .split(", ")
        .map(|part| match part.split_once(" = ") {
            Some((k, v)) => {
                let key = match k {
                    "alpha" => "$\\alpha$".to_string(),
                    other => format!("\\texttt{{{}}}", super::table::latex_escape(other)),
                };
                format!("{key} = {}", super::table::latex_value(v))
            }
            None => super::table::latex_escape(part),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn cli(args: &PlotArgs) -> Result<(), SweepError> {
    let rows = read_all(&args.results)?;
    let bounds: Vec<String> = if args.bounds.trim() == "none" {
        Vec::new()
    } else {
        args.bounds.split(',').map(|b| b.trim().to_string()).filter(|b| !b.is_empty()).collect()
    };
    for b in &bounds {
        if !["trivial", "published", "sharpened", "gronwall_t2"].contains(&b.as_str()) {
            return Err(SweepError::usage(format!(
                "--bounds: unknown bound '{b}' (expected trivial, published, sharpened, gronwall_t2 or none)"
            )));
        }
    }
    if bounds.len() > 4 {
        return Err(SweepError::usage("--bounds: at most 4 bounds"));
    }
    let (series, skipped) = series(&rows, &bounds);
    if skipped > 0 {
        eprintln!("note: {skipped} cells without a finite enclosure of sup D are not plotted");
    }
    let title = args.title.clone().unwrap_or_else(|| "certified sup D against T".to_string());
    let text = match args.format.as_str() {
        "svg" => svg(&series, &bounds, &title).map_err(|e| SweepError::data(format!("cannot draw the figure: {e}")))?,
        "pgfplots" | "tex" => pgfplots(&series, &bounds, &title),
        other => return Err(SweepError::usage(format!("--format '{other}': expected svg or pgfplots"))),
    };
    crate::certificate::write_atomically(&args.out, text.as_bytes())
        .map_err(|e| SweepError::cant_create(format!("cannot write '{}': {e}", args.out.display())))?;
    Ok(())
}
