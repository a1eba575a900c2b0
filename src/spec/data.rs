//! Loaders for numeric data files: `.npy`, `.safetensors` and `.csv`.
//!
//! Every loader turns the file bytes into a [`Tensor`] of enclosures. Binary floating-point
//! values (f16, bf16, f32, f64) are exact binary numbers and are converted exactly (thin
//! intervals); integers are exact (thin unless beyond 2^53, then the tightest enclosure); CSV
//! fields are decimal text parsed exactly and enclosed (one ulp wide when not a binary number).
//! NaN and infinities are rejected, naming the element. Content errors are returned as one-line
//! strings; the caller adds the file name and the field.

use crate::arith::rational::{parse_decimal, rational_to_interval};
use inari::Interval;
use num_bigint::BigInt;
use num_rational::BigRational;
use sha2::{Digest, Sha256};

/// A dense array in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<Interval>,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// `[a, b, c]` for messages.
pub fn shape_string(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "))
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The multi-index of flat C-order position `flat` in `shape`, as `[i, j]`.
fn index_string(shape: &[usize], flat: usize) -> String {
    if shape.len() <= 1 {
        return format!("[{flat}]");
    }
    let mut idx = vec![0usize; shape.len()];
    let mut rest = flat;
    for (k, &s) in shape.iter().enumerate().rev() {
        let s = s.max(1);
        idx[k] = rest % s;
        rest /= s;
    }
    shape_string(&idx)
}

/// Element types understood by the binary loaders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    F16,
    BF16,
    F32,
    F64,
    Int(usize),
    Uint(usize),
}

impl ElementType {
    pub fn size(self) -> usize {
        match self {
            ElementType::F16 | ElementType::BF16 => 2,
            ElementType::F32 => 4,
            ElementType::F64 => 8,
            ElementType::Int(n) | ElementType::Uint(n) => n,
        }
    }
}

/// IEEE binary16 to f64, exactly.
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((bits >> 10) & 0x1f) as i32;
    let frac = (bits & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 => {
            if frac == 0.0 {
                sign * f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => sign * (1.0 + frac / 1024.0) * 2f64.powi(e - 15),
    }
}

/// Decodes raw element bytes (C order, `shape`) into enclosures. Non-finite values are errors.
pub fn decode(raw: &[u8], ty: ElementType, big_endian: bool, shape: &[usize]) -> Result<Vec<Interval>, String> {
    let size = ty.size();
    let count: usize = shape.iter().product();
    let need = count.checked_mul(size).ok_or("shape too large")?;
    if raw.len() < need {
        return Err(format!(
            "truncated: shape {} needs {need} data bytes, the file has {}",
            shape_string(shape),
            raw.len()
        ));
    }
    let mut out = Vec::with_capacity(count);
    for (i, chunk) in raw[..need].chunks_exact(size).enumerate() {
        let mut b = [0u8; 8];
        // Normalise to little-endian in b[..size].
        if big_endian {
            for (k, byte) in chunk.iter().rev().enumerate() {
                b[k] = *byte;
            }
        } else {
            b[..size].copy_from_slice(chunk);
        }
        let x = match ty {
            ElementType::F64 => f64::from_le_bytes(b),
            ElementType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            ElementType::F16 => f16_to_f64(u16::from_le_bytes([b[0], b[1]])),
            ElementType::BF16 => f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16) as f64,
            ElementType::Int(n) => {
                // Sign-extend.
                let fill = if b[n - 1] & 0x80 != 0 { 0xff } else { 0 };
                for byte in b.iter_mut().skip(n) {
                    *byte = fill;
                }
                let v = i64::from_le_bytes(b);
                out.push(rational_to_interval(&BigRational::from_integer(BigInt::from(v))));
                continue;
            }
            ElementType::Uint(_) => {
                let v = u64::from_le_bytes(b);
                out.push(rational_to_interval(&BigRational::from_integer(BigInt::from(v))));
                continue;
            }
        };
        if x.is_nan() {
            return Err(format!("element {} is NaN", index_string(shape, i)));
        }
        if x.is_infinite() {
            return Err(format!("element {} is infinite", index_string(shape, i)));
        }
        out.push(Interval::try_from((x, x)).expect("finite"));
    }
    Ok(out)
}

/// A version-1 `.npy` file of little-endian float64 values in C order (what [`parse_npy`]
/// reads back exactly; used by `ntkcert bench` to hand a problem to the float solve, and by the
/// tests).
pub fn npy_f64_bytes(shape: &[usize], values: &[f64]) -> Vec<u8> {
    let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    npy_bytes("<f8", shape, &data)
}

/// A version-1 `.npy` file in C order with the dtype `descr` and the raw `data`.
fn npy_bytes(descr: &str, shape: &[usize], data: &[u8]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6 bytes), version (2), header length (2), then the header padded with spaces so
    // that the data starts at a multiple of 64, ending in a newline.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

/// Parses a `.npy` file (format versions 1-3): little- or big-endian `f2 f4 f8 i1..i8 u1..u8`,
/// C or Fortran order. Trailing bytes after the data are rejected.
pub fn parse_npy(bytes: &[u8]) -> Result<Tensor, String> {
    use npyz::{DType, Endianness, NpyHeader, Order, TypeChar};
    check_npy_header(bytes)?;
    let mut cursor = std::io::Cursor::new(bytes);
    let header = NpyHeader::from_reader(&mut cursor).map_err(|e| format!("not a valid .npy file: {e}"))?;
    let start = cursor.position() as usize;
    let ts = match header.dtype() {
        DType::Plain(ts) => ts,
        other => return Err(format!("unsupported .npy dtype {}: expected a plain numeric dtype", other.descr())),
    };
    let size = ts.size_field() as usize;
    let ty = match (ts.type_char(), size) {
        (TypeChar::Float, 2) => ElementType::F16,
        (TypeChar::Float, 4) => ElementType::F32,
        (TypeChar::Float, 8) => ElementType::F64,
        (TypeChar::Int, 1 | 2 | 4 | 8) => ElementType::Int(size),
        (TypeChar::Uint, 1 | 2 | 4 | 8) => ElementType::Uint(size),
        _ => return Err(format!("unsupported .npy dtype '{ts}' (expected f2, f4, f8, i1-i8 or u1-u8)")),
    };
    let big_endian = ts.endianness() == Endianness::Big;
    let shape: Vec<usize> = header
        .shape()
        .iter()
        .map(|&s| usize::try_from(s).map_err(|_| "shape too large".to_string()))
        .collect::<Result<_, _>>()?;
    let count = shape.iter().try_fold(1usize, |a, &s| a.checked_mul(s)).ok_or("shape too large")?;
    let data = &bytes[start..];
    let need = count.checked_mul(size).ok_or("shape too large")?;
    if data.len() > need {
        return Err(format!(
            "corrupt: shape {} needs {need} data bytes, the file has {} ({} trailing)",
            shape_string(&shape),
            data.len(),
            data.len() - need
        ));
    }
    let values = match header.order() {
        Order::C => decode(data, ty, big_endian, &shape)?,
        Order::Fortran => {
            // Stored with the first index fastest: decode as the reversed shape, then transpose.
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            let stored = decode(data, ty, big_endian, &rev)?;
            let mut out = vec![Interval::EMPTY; count];
            for (f, v) in stored.into_iter().enumerate() {
                // f is the C-order position in `rev`; the same multi-index reversed is the
                // position in `shape`.
                let mut rest = f;
                let mut idx = vec![0usize; shape.len()];
                for (k, &s) in rev.iter().enumerate().rev() {
                    idx[k] = rest % s.max(1);
                    rest /= s.max(1);
                }
                let mut c = 0usize;
                for (k, &s) in shape.iter().enumerate() {
                    c = c * s + idx[shape.len() - 1 - k];
                }
                out[c] = v;
            }
            out
        }
    };
    Ok(Tensor { shape, values })
}

/// Refuses, before `npyz` parses the header: a `.npy` file whose stated header length runs past
/// its end (`npyz` would allocate a buffer of that length: format versions 2 and 3 state it in 4
/// bytes, and a 136-byte file asked for 632 MiB), and a header with nested structures (more than
/// one `{` or `(`, or any `[`: structured dtypes, which are not supported, and on which `npyz`'s
/// parser ran for more than 5 s on a 600-byte header). Both found by fuzzing (issue 21). Files
/// too short to state a length, or with another magic, are left to `npyz`'s own errors.
fn check_npy_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < 10 || !bytes.starts_with(b"\x93NUMPY") {
        return Ok(());
    }
    let (len, start) = match bytes[6] {
        1 => (u64::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10u64),
        _ if bytes.len() >= 12 => (u64::from(u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]])), 12u64),
        _ => return Ok(()),
    };
    if start + len > bytes.len() as u64 {
        return Err(format!("not a valid .npy file (truncated?): the header length {len} exceeds the file ({} bytes)", bytes.len()));
    }
    let header = &bytes[start as usize..(start + len) as usize];
    let count = |c: u8| header.iter().filter(|&&b| b == c).count();
    if count(b'{') > 1 || count(b'(') > 1 || count(b'[') > 0 {
        return Err("unsupported .npy header: nested structures (structured dtypes); expected a plain numeric dtype".into());
    }
    Ok(())
}

/// The loaded `.safetensors` file, validated.
pub struct SafeTensorsFile<'a> {
    inner: safetensors::SafeTensors<'a>,
}

fn safetensors_reason(e: &safetensors::SafeTensorError) -> String {
    use safetensors::SafeTensorError as E;
    match e {
        E::InvalidHeader => "not a valid .safetensors file: the header is not UTF-8".into(),
        E::InvalidHeaderStart => "not a valid .safetensors file: the header does not start with '{'".into(),
        E::InvalidHeaderDeserialization => "not a valid .safetensors file: the header is not valid JSON".into(),
        E::HeaderTooLarge => "not a valid .safetensors file: header too large".into(),
        E::HeaderTooSmall => "not a valid .safetensors file: shorter than the 8-byte header length".into(),
        E::InvalidHeaderLength => {
            "not a valid .safetensors file (truncated?): the header length exceeds the file".into()
        }
        E::TensorNotFound(n) => format!("no tensor named '{n}'"),
        E::TensorInvalidInfo => "corrupt: a tensor's shape, dtype and offsets disagree".into(),
        E::InvalidOffset(n) => format!("corrupt (truncated?): invalid data offsets for tensor '{n}'"),
        E::MetadataIncompleteBuffer => "corrupt (truncated?): the tensor data does not match the file length".into(),
        E::ValidationOverflow => "corrupt: shape overflow".into(),
        other => format!("not a valid .safetensors file: {other}"),
    }
}

/// Parses and validates a `.safetensors` file (header and offsets).
pub fn parse_safetensors(bytes: &[u8]) -> Result<SafeTensorsFile<'_>, String> {
    safetensors::SafeTensors::deserialize(bytes)
        .map(|inner| SafeTensorsFile { inner })
        .map_err(|e| safetensors_reason(&e))
}

impl SafeTensorsFile<'_> {
    /// The tensor called `name`: dtypes F64, F32, F16, BF16, I8-I64, U8-U64.
    pub fn tensor(&self, name: &str) -> Result<Tensor, String> {
        use safetensors::Dtype;
        let view = self.inner.tensor(name).map_err(|e| {
            let mut names: Vec<String> = self.inner.names().into_iter().cloned().collect();
            names.sort();
            format!("{} (the file has: {})", safetensors_reason(&e), names.join(", "))
        })?;
        let ty =
            match view.dtype() {
                Dtype::F64 => ElementType::F64,
                Dtype::F32 => ElementType::F32,
                Dtype::F16 => ElementType::F16,
                Dtype::BF16 => ElementType::BF16,
                Dtype::I8 => ElementType::Int(1),
                Dtype::I16 => ElementType::Int(2),
                Dtype::I32 => ElementType::Int(4),
                Dtype::I64 => ElementType::Int(8),
                Dtype::U8 => ElementType::Uint(1),
                Dtype::U16 => ElementType::Uint(2),
                Dtype::U32 => ElementType::Uint(4),
                Dtype::U64 => ElementType::Uint(8),
                other => return Err(format!(
                    "tensor '{name}' has unsupported dtype {other:?} (expected F64, F32, F16, BF16 or an integer type)"
                )),
            };
        let shape = view.shape().to_vec();
        let values = decode(view.data(), ty, false, &shape).map_err(|e| format!("tensor '{name}': {e}"))?;
        Ok(Tensor { shape, values })
    }
}

/// Parses a CSV file of decimal numbers into a `rows x cols` tensor.
///
/// Fields are separated by commas, surrounding whitespace is ignored, empty lines and lines
/// starting with `#` are skipped. The first row is a header (and skipped) when none of its fields
/// is a number or a spelling of NaN/infinity; otherwise every field of every row must be a
/// decimal number (parsed exactly, as in the spec). All rows must have the same length.
pub fn parse_csv(bytes: &[u8]) -> Result<Tensor, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .flexible(true)
        .from_reader(bytes);
    // One flat array (16 bytes per value; rows of their own and a final flattening copy took
    // three times that, issue 21), with the first data row's length as the column count.
    let mut values: Vec<Interval> = Vec::new();
    let mut cols: Option<usize> = None;
    let mut first = true;
    for record in reader.records() {
        let record = record.map_err(|e| format!("not a valid CSV file: {e}"))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        if first {
            first = false;
            let is_header = record.iter().all(|f| parse_decimal(f).is_err() && !looks_non_finite(f));
            if is_header {
                continue;
            }
        }
        if let Some(c) = cols {
            if record.len() != c {
                return Err(format!("line {line}: expected {c} fields like the first data row, got {}", record.len()));
            }
        }
        for (col, field) in record.iter().enumerate() {
            if looks_non_finite(field) {
                return Err(format!("line {line}, column {}: '{field}' is not a finite number", col + 1));
            }
            let q = parse_decimal(field).map_err(|e| format!("line {line}, column {}: {e}", col + 1))?;
            values.push(rational_to_interval(&q));
        }
        cols.get_or_insert(record.len());
    }
    let cols = cols.unwrap_or(0);
    let rows = if cols == 0 { 0 } else { values.len() / cols };
    Ok(Tensor { shape: vec![rows, cols], values })
}

fn looks_non_finite(field: &str) -> bool {
    let f = field.trim().trim_start_matches(['+', '-']).to_ascii_lowercase();
    matches!(f.as_str(), "nan" | "inf" | "infinity")
}

#[cfg(test)]
mod tests {
    use super::*;


    fn f64_bytes(v: &[f64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn npy_f64_roundtrip() {
        let vals = [0.1, -2.5, 3.0, 1e-300, 7.0, 8.0];
        let t = parse_npy(&npy_bytes("<f8", &[3, 2], &f64_bytes(&vals))).unwrap();
        assert_eq!(t.shape, vec![3, 2]);
        for (x, v) in t.values.iter().zip(vals) {
            assert_eq!((x.inf(), x.sup()), (v, v));
        }
    }

    #[test]
    fn npy_f32_big_endian_and_ints() {
        let data: Vec<u8> = [0.1f32, -1.5].iter().flat_map(|x| x.to_be_bytes()).collect();
        let t = parse_npy(&npy_bytes(">f4", &[2], &data)).unwrap();
        assert_eq!(t.values[0].inf(), 0.1f32 as f64);
        assert_eq!(t.values[1].sup(), -1.5);
        let data: Vec<u8> = [-3i32, 5].iter().flat_map(|x| x.to_le_bytes()).collect();
        let t = parse_npy(&npy_bytes("<i4", &[2], &data)).unwrap();
        assert_eq!(t.values[0].inf(), -3.0);
        assert_eq!(t.values[1].inf(), 5.0);
        let t = parse_npy(&npy_bytes("<f2", &[2], &[0x00, 0x3c, 0x00, 0xc0])).unwrap();
        assert_eq!((t.values[0].inf(), t.values[1].inf()), (1.0, -2.0));
    }

    #[test]
    fn npy_fortran_order() {
        let mut bytes = npy_bytes("<f8", &[2, 3], &f64_bytes(&[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]));
        let pos = bytes.windows(5).position(|w| w == b"False").unwrap();
        bytes.splice(pos..pos + 5, b"True ".iter().copied());
        let t = parse_npy(&bytes).unwrap();
        let got: Vec<f64> = t.values.iter().map(|x| x.inf()).collect();
        assert_eq!(got, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }

    #[test]
    fn npy_rejects_bad_files() {
        let good = npy_bytes("<f8", &[2, 2], &f64_bytes(&[1.0, 2.0, 3.0, 4.0]));
        let e = parse_npy(&good[..good.len() - 3]).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
        let e = parse_npy(&good[..20]).unwrap_err();
        assert!(e.contains("not a valid .npy"), "{e}");
        let e = parse_npy(b"hello world").unwrap_err();
        assert!(e.contains("not a valid .npy"), "{e}");
        let mut extra = good.clone();
        extra.push(0);
        assert!(parse_npy(&extra).unwrap_err().contains("trailing"));
        let e = parse_npy(&npy_bytes("<f8", &[2, 2], &f64_bytes(&[1.0, 2.0, f64::NAN, 4.0]))).unwrap_err();
        assert_eq!(e, "element [1, 0] is NaN");
        let e = parse_npy(&npy_bytes("<f8", &[3], &f64_bytes(&[1.0, f64::NEG_INFINITY, 4.0]))).unwrap_err();
        assert_eq!(e, "element [1] is infinite");
        assert!(parse_npy(&npy_bytes("<c16", &[1], &[0; 16])).unwrap_err().contains("unsupported"));
    }

    /// Issue 21 (fuzzing, reproducer fuzz/artifacts/spec_files/timeout-a8a0aeee...): a header with
    /// nested structures (here 40 nested `{` in `descr`, on which `npyz` ran for minutes) is
    /// refused at once; a structured dtype (a list) too.
    #[test]
    fn npy_nested_headers_are_refused_at_once() {
        let start = std::time::Instant::now();
        let nested = npy_bytes(&format!("{}<f8", "{".repeat(40)), &[2], &f64_bytes(&[1.0, 2.0]));
        let e = parse_npy(&nested).unwrap_err();
        assert!(e.starts_with("unsupported .npy header: nested structures"), "{e}");
        let structured = npy_bytes("[('a', '<f8')]", &[1], &f64_bytes(&[1.0]));
        assert!(parse_npy(&structured).unwrap_err().starts_with("unsupported .npy header"));
        assert!(start.elapsed().as_secs_f64() < 1.0);
        assert!(parse_npy(&npy_bytes("<f8", &[2, 1], &f64_bytes(&[1.0, 2.0]))).is_ok());
    }

    /// Issue 21 (fuzzing, reproducer fuzz/artifacts/spec_files/oom-e1c8f899...): a header length
    /// past the end of the file is refused before anything of that length is allocated.
    #[test]
    fn npy_header_length_past_the_end() {
        let v1 = npy_bytes("<f8", &[2], &f64_bytes(&[1.0, 2.0]));
        // The same file in format version 2: a 4-byte header length.
        let header = &v1[10..v1.len() - 16];
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        v2.extend_from_slice(&(header.len() as u32).to_le_bytes());
        v2.extend_from_slice(header);
        v2.extend_from_slice(&v1[v1.len() - 16..]);
        assert_eq!(parse_npy(&v2).expect("version 2").values, parse_npy(&v1).expect("version 1").values);
        v2[8..12].copy_from_slice(&0x277b_0076u32.to_le_bytes());
        let e = parse_npy(&v2).unwrap_err();
        assert!(e.starts_with("not a valid .npy file (truncated?): the header length 662372470 exceeds the file"), "{e}");
        let mut short = v1.clone();
        short[8..10].copy_from_slice(&60000u16.to_le_bytes());
        assert!(parse_npy(&short).unwrap_err().contains("header length 60000 exceeds"));
    }

    fn safetensors_file(tensors: &[(&str, &str, &[usize], Vec<u8>)]) -> Vec<u8> {
        let mut header = String::from("{");
        let mut data = Vec::new();
        for (i, (name, dtype, shape, bytes)) in tensors.iter().enumerate() {
            if i > 0 {
                header.push(',');
            }
            let shape: Vec<String> = shape.iter().map(|s| s.to_string()).collect();
            header.push_str(&format!(
                "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}",
                shape.join(","),
                data.len(),
                data.len() + bytes.len()
            ));
            data.extend_from_slice(bytes);
        }
        header.push('}');
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&data);
        out
    }

    #[test]
    fn safetensors_dtypes() {
        let file = safetensors_file(&[
            ("a", "F64", &[2], f64_bytes(&[0.1, 2.0])),
            ("b", "F32", &[1, 2], [0.1f32, 3.0].iter().flat_map(|x| x.to_le_bytes()).collect()),
            ("c", "BF16", &[1], vec![0x80, 0x3f]),
        ]);
        let st = parse_safetensors(&file).unwrap();
        assert_eq!(st.tensor("a").unwrap().values[0].inf(), 0.1);
        let b = st.tensor("b").unwrap();
        assert_eq!(b.shape, vec![1, 2]);
        assert_eq!(b.values[0].inf(), 0.1f32 as f64);
        assert_eq!(st.tensor("c").unwrap().values[0].inf(), 1.0);
        assert!(st.tensor("zz").unwrap_err().contains("no tensor named 'zz'"));
        let e = parse_safetensors(&file[..file.len() - 1]).err().unwrap();
        assert!(e.contains("truncated"), "{e}");
        assert!(parse_safetensors(&file[..5]).is_err());
        let nan = safetensors_file(&[("a", "F64", &[2], f64_bytes(&[1.0, f64::NAN]))]);
        assert!(parse_safetensors(&nan).unwrap().tensor("a").unwrap_err().contains("element [1] is NaN"));
    }

    #[test]
    fn csv_header_exact_and_errors() {
        let t = parse_csv(b"x1, x2\n0.1, 2\n# comment\n\n-3e-1, 1/3\n").unwrap();
        assert_eq!(t.shape, vec![2, 2]);
        assert!(crate::arith::rational::interval_contains_rational(t.values[0], &parse_decimal("0.1").unwrap()));
        assert_eq!(t.values[0].inf().next_up(), t.values[0].sup());
        assert_eq!(t.values[1].inf(), 2.0);
        let t = parse_csv(b"1,2\n3,4\n").unwrap();
        assert_eq!(t.shape, vec![2, 2]);
        assert!(parse_csv(b"1,2\n3\n").unwrap_err().contains("line 2"));
        let e = parse_csv(b"1,2\n3,nan\n").unwrap_err();
        assert!(e.contains("line 2, column 2") && e.contains("nan"), "{e}");
        assert!(parse_csv(b"nan,1\n").unwrap_err().contains("line 1, column 1"));
        assert!(parse_csv(b"1,abc\n").unwrap_err().contains("line 1, column 2"));
    }
}
