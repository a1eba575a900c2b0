//! Reading input files with bounds: only regular files, and at most a stated number of bytes, so
//! that `/dev/zero`, a FIFO or a runaway file cannot make a command read until memory runs out
//! (issue 21). The limits are documented in `specs/README.md` ("File limits").

use std::io::Read;
use std::path::Path;

/// Spec files (TOML, inline weights included).
pub const SPEC_LIMIT: u64 = 64 << 20;
/// Data files (`.npy`, `.csv`, `.safetensors`).
pub const DATA_LIMIT: u64 = 4 << 30;
/// Certificates and results files.
pub const CERTIFICATE_LIMIT: u64 = 256 << 20;

/// The bytes of the regular file at `path` if it has at most `limit` bytes. Errors (one line
/// each, for the caller to prefix with the file and field): the file cannot be opened; it is not
/// a regular file (a directory, device, FIFO or socket); it is larger than `limit` (also when it
/// grows past `limit` while being read: at most `limit + 1` bytes are ever read).
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        let kind = if meta.is_dir() { "a directory" } else { "not a regular file" };
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, kind));
    }
    let too_large = |size: u64| std::io::Error::other(format!("{size} bytes or more, over the limit of {limit} bytes"));
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text (a non-UTF-8 file is an `InvalidData` error, as
/// `std::fs::read_to_string`'s).
pub fn read_text_bounded(path: &Path, limit: u64) -> std::io::Result<String> {
    String::from_utf8(read_bounded(path, limit)?).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused() {
        if Path::new("/dev/zero").exists() {
            let e = read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err();
            assert_eq!(e.to_string(), "not a regular file");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(read_bounded(dir.path(), 10).unwrap_err().to_string(), "a directory");
        let f = dir.path().join("f");
        std::fs::write(&f, b"0123456789").expect("write");
        assert_eq!(read_bounded(&f, 10).expect("at the limit"), b"0123456789");
        assert!(read_bounded(&f, 9).unwrap_err().to_string().contains("over the limit of 9 bytes"));
    }
}
