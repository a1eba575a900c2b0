//! Reading the parsed TOML tree field by field: every access knows its dotted path, so every
//! error names the field; unknown keys are rejected; numbers follow the exactness rule.

use super::error::SpecError;
use crate::arith::rational::parse_decimal;
use num_bigint::BigInt;
use num_rational::BigRational;
use toml::{Table, Value};

pub(crate) type Result<T> = std::result::Result<T, SpecError>;

/// The TOML type name of a value, for messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

/// A TOML table together with its dotted path.
pub(crate) struct Section<'a> {
    path: String,
    table: &'a Table,
}

impl<'a> Section<'a> {
    pub fn root(table: &'a Table) -> Self {
        Section { path: String::new(), table }
    }

    pub fn new(path: String, table: &'a Table) -> Self {
        Section { path, table }
    }

    /// The dotted path of `key` in this section.
    pub fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    /// How the section is called in messages.
    fn describe(&self) -> String {
        if self.path.is_empty() {
            "at the top level".to_string()
        } else {
            format!("in [{}]", self.path)
        }
    }

    /// Rejects any key not in `allowed` (the `deny_unknown_fields` rule).
    pub fn check_keys(&self, allowed: &[&str], context: &str) -> Result<()> {
        for key in self.table.keys() {
            if !allowed.contains(&key.as_str()) {
                return Err(SpecError::invalid(
                    self.field(key),
                    format!(
                        "unknown key '{key}' {}{context} (expected one of {})",
                        self.describe(),
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    pub fn require(&self, key: &str) -> Result<&'a Value> {
        self.table
            .get(key)
            .ok_or_else(|| SpecError::invalid(self.field(key), format!("missing (required {})", self.describe())))
    }

    /// Rejects `key` if present (it does not apply in this configuration).
    pub fn forbid(&self, key: &str, why: &str) -> Result<()> {
        if self.has(key) {
            return Err(SpecError::invalid(self.field(key), format!("not allowed {why}")));
        }
        Ok(())
    }

    pub fn section(&self, key: &str) -> Result<Option<Section<'a>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(Section::new(self.field(key), t))),
            Some(v) => Err(SpecError::invalid(self.field(key), format!("expected a table, got {}", type_name(v)))),
        }
    }

    pub fn str(&self, key: &str) -> Result<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => as_str(v, &self.field(key)).map(Some),
        }
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(v) => {
                Err(SpecError::invalid(self.field(key), format!("expected true or false, got {}", type_name(v))))
            }
        }
    }

    pub fn exact(&self, key: &str) -> Result<Option<BigRational>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => exact(v, &self.field(key)).map(Some),
        }
    }

    /// A TOML integer `>= min`.
    pub fn count(&self, key: &str, min: i64) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => count(v, &self.field(key), min).map(Some),
        }
    }
}

pub(crate) fn as_str<'a>(v: &'a Value, field: &str) -> Result<&'a str> {
    match v {
        Value::String(s) => Ok(s),
        v => Err(SpecError::invalid(field, format!("expected a string, got {}", type_name(v)))),
    }
}

pub(crate) fn as_array<'a>(v: &'a Value, field: &str) -> Result<&'a Vec<Value>> {
    match v {
        Value::Array(a) => Ok(a),
        v => Err(SpecError::invalid(field, format!("expected an array, got {}", type_name(v)))),
    }
}

pub(crate) fn as_table<'a>(v: &'a Value, field: &str) -> Result<Section<'a>> {
    match v {
        Value::Table(t) => Ok(Section::new(field.to_string(), t)),
        v => Err(SpecError::invalid(field, format!("expected a table, got {}", type_name(v)))),
    }
}

/// A TOML integer `>= min`, as `usize`.
pub(crate) fn count(v: &Value, field: &str, min: i64) -> Result<usize> {
    match v {
        Value::Integer(i) if *i >= min => {
            usize::try_from(*i).map_err(|_| SpecError::invalid(field, format!("{i} is too large")))
        }
        Value::Integer(i) => Err(SpecError::invalid(field, format!("must be an integer >= {min}, got {i}"))),
        v => Err(SpecError::invalid(field, format!("expected an integer >= {min}, got {}", type_name(v)))),
    }
}

/// An exact number: a TOML integer, or a string holding a decimal (`"0.1"`, `"1e-3"`, `"1/3"`).
/// TOML floats are rejected because the TOML parser has already rounded them to binary.
pub(crate) fn exact(v: &Value, field: &str) -> Result<BigRational> {
    match v {
        Value::Integer(i) => Ok(BigRational::from_integer(BigInt::from(*i))),
        Value::String(s) => parse_decimal(s).map_err(|e| SpecError::invalid(field, e.to_string())),
        Value::Float(x) if !x.is_finite() => {
            Err(SpecError::invalid(field, format!("{x} is not a finite number")))
        }
        Value::Float(x) => Err(SpecError::invalid(
            field,
            format!(
                "TOML float {x:?} is not exact (the TOML parser rounds it to binary); write the number as a quoted decimal string, e.g. \"{x:?}\""
            ),
        )),
        v => Err(SpecError::invalid(
            field,
            format!("expected a number (an integer or a quoted decimal string such as \"0.1\"), got {}", type_name(v)),
        )),
    }
}

/// An array of exact numbers.
pub(crate) fn exact_vec(v: &Value, field: &str) -> Result<Vec<BigRational>> {
    as_array(v, field)?.iter().enumerate().map(|(i, x)| exact(x, &format!("{field}[{i}]"))).collect()
}

/// A rectangular array of arrays of exact numbers. When `expected_cols = Some((c, why))` every
/// row must have `c` entries (`why` explains where `c` comes from); otherwise every row must have
/// as many entries as the first. Returns the rows.
pub(crate) fn exact_matrix(
    v: &Value,
    field: &str,
    expected_cols: Option<(usize, &str)>,
) -> Result<Vec<Vec<BigRational>>> {
    let rows = as_array(v, field)?;
    let mut out: Vec<Vec<BigRational>> = Vec::with_capacity(rows.len());
    for (i, row) in rows.iter().enumerate() {
        let row_field = format!("{field}[{i}]");
        let vals = match row {
            Value::Array(_) => exact_vec(row, &row_field)?,
            v => {
                return Err(SpecError::invalid(row_field, format!("expected an array (one row), got {}", type_name(v))))
            }
        };
        let want = match (expected_cols, out.first()) {
            (Some((c, why)), _) => Some((c, why.to_string())),
            (None, Some(r0)) => Some((r0.len(), format!(" (like {field}[0])"))),
            (None, None) => None,
        };
        if let Some((want, why)) = want {
            if vals.len() != want {
                return Err(SpecError::invalid(row_field, format!("expected {want} entries{why}, got {}", vals.len())));
            }
        }
        out.push(vals);
    }
    Ok(out)
}
