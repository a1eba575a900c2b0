//! The results file: one JSON object per line, one line per finished cell (README.md, "sweep").

use super::SweepError;
use crate::arith::rational::parse_decimal;
use num_rational::BigRational;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The `format` value of every results line.
pub const RESULTS_FORMAT: &str = "ntkcert-sweep-cell/1";

/// One line of a results file.
#[derive(Debug, Clone)]
pub struct Row {
    pub value: Value,
    /// The directory of the results file (certificate paths are relative to it).
    pub dir: PathBuf,
}

/// An enclosure read back from `{"lo": .., "hi": ..}`; `null` is an infinite endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Endpoints {
    pub lo: f64,
    pub hi: f64,
}

impl Row {
    pub fn key(&self) -> &str {
        self.value["key"].as_str().unwrap_or("")
    }
    pub fn index(&self) -> u64 {
        self.value["index"].as_u64().unwrap_or(u64::MAX)
    }
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.value.get(name).and_then(|v| v.as_str())
    }
    /// An exact input (`alpha`, `horizon`, `tolerance`) as a rational.
    pub fn exact(&self, name: &str) -> Option<BigRational> {
        self.str_field(name).and_then(|s| parse_decimal(s).ok())
    }
    /// The value of a swept field as written (`values.FIELD`).
    pub fn swept(&self, field: &str) -> Option<&str> {
        self.value.get("values").and_then(|v| v.get(field)).and_then(|v| v.as_str())
    }
    pub fn interval(&self, path: &[&str]) -> Option<Endpoints> {
        let mut v = &self.value;
        for p in path {
            v = v.get(*p)?;
        }
        // An exact claim "x * 2^e" (outside the f64 range) as its f64 enclosure, outward.
        let lo = crate::report::endpoint_enclosure(v.get("lo")?, true, f64::NEG_INFINITY)?;
        let hi = crate::report::endpoint_enclosure(v.get("hi")?, false, f64::INFINITY)?;
        Some(Endpoints { lo, hi })
    }
    /// A theory bound (an upper bound of sup D): `theory.KEY`.
    pub fn bound(&self, key: &str) -> Option<f64> {
        let v = self.value.get("theory")?.get(key)?;
        if v.is_null() { Some(f64::INFINITY) } else { v.as_f64() }
    }
    pub fn certificate_path(&self) -> Option<PathBuf> {
        self.str_field("certificate").map(|c| self.dir.join(c))
    }

    /// Checks that the certificate file exists and claims the same enclosure of sup D.
    pub fn check_certificate(&self) -> Result<(), String> {
        let path = self.certificate_path().ok_or("no certificate path")?;
        let text = crate::files::read_text_bounded(&path, crate::files::CERTIFICATE_LIMIT).map_err(|e| format!("cannot read certificate '{}': {e}", path.display()))?;
        let cert: Value = serde_json::from_str(&text).map_err(|e| format!("certificate '{}' is not JSON: {e}", path.display()))?;
        let claimed = &cert["claims"]["sup_deviation"];
        if *claimed != self.value["sup_deviation"] {
            return Err(format!("certificate '{}' claims sup D = {claimed}, the results line says {}", path.display(), self.value["sup_deviation"]));
        }
        Ok(())
    }
}

/// Reads a results file. With `tolerate_partial`, lines that are not complete JSON objects are
/// skipped (and counted); otherwise they are errors naming the file and line.
pub fn read_rows(path: &Path, tolerate_partial: bool) -> Result<(Vec<Row>, usize), SweepError> {
    // A sweep's output directory stands for the results file sweep wrote in it.
    let owned;
    let path = if path.is_dir() {
        owned = path.join("results.jsonl");
        owned.as_path()
    } else {
        path
    };
    let text = crate::files::read_text_bounded(path, crate::files::CERTIFICATE_LIMIT)
        .map_err(|e| SweepError::no_input(format!("{}: cannot read results file: {e}", path.display())))?;
    if let Ok(Value::Object(whole)) = serde_json::from_str::<Value>(&text) {
        if whole.get("format").and_then(Value::as_str) == Some(crate::certificate::FORMAT_VERSION) {
            return Err(SweepError::data(format!(
                "{}: this is a certificate ({}), not a results file: table, plot and merge read the results.jsonl that sweep writes (check a certificate with ntkcert check)",
                path.display(),
                crate::certificate::FORMAT_VERSION
            )));
        }
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut rows = Vec::new();
    let mut skipped = 0;
    for (i, line) in text.split('\n').enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Result<Value, String> = serde_json::from_str::<Value>(line)
            .map_err(|e| e.to_string())
            .and_then(|v| {
                if v.get("format").and_then(|f| f.as_str()) != Some(RESULTS_FORMAT) {
                    Err(format!("not a results line (expected \"format\": \"{RESULTS_FORMAT}\")"))
                } else if v.get("key").and_then(|k| k.as_str()).is_none() || v.get("index").and_then(|k| k.as_u64()).is_none() {
                    Err("missing 'key' or 'index'".to_string())
                } else {
                    Ok(v)
                }
            });
        match parsed {
            Ok(value) => rows.push(Row { value, dir: dir.clone() }),
            Err(_) if tolerate_partial => skipped += 1,
            Err(e) => return Err(SweepError::data(format!("{}: line {}: {e}", path.display(), i + 1))),
        }
    }
    Ok((rows, skipped))
}

/// Reads several results files, in order.
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<Row>, SweepError> {
    let mut rows = Vec::new();
    for p in paths {
        rows.extend(read_rows(p, false)?.0);
    }
    if rows.is_empty() {
        return Err(SweepError::data(format!(
            "{}: no results (the sweep has not finished any cell yet)",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(rows)
}
