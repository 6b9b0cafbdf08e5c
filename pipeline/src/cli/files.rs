//! Input and output files of the file commands (`process`): lines ended by
//! LF, CRLF or a lone CR; outputs that never overwrite an input and appear
//! only when complete (written to a temporary file in the same directory,
//! renamed at the end).

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{PipelineError, Result};

/// The lines of a reader, ended by `\n`, `\r\n` or a lone `\r` (old Mac
/// exports), without their ending. A last line without an ending is a line;
/// nothing after the last ending is not.
pub struct Lines<R> {
    r: R,
    /// The last line ended in `\r`: a `\n` right after it belongs to it.
    after_cr: bool,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `r`.
    pub fn new(r: R) -> Self {
        Self { r, after_cr: false }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = std::io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Vec::new();
        loop {
            let buf = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(e)),
            };
            if buf.is_empty() {
                return (!line.is_empty()).then_some(Ok(line));
            }
            if std::mem::take(&mut self.after_cr) && buf[0] == b'\n' {
                self.r.consume(1);
                continue;
            }
            match buf.iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(i) => {
                    line.extend_from_slice(&buf[..i]);
                    self.after_cr = buf[i] == b'\r';
                    self.r.consume(i + 1);
                    return Some(Ok(line));
                }
                None => {
                    let n = buf.len();
                    line.extend_from_slice(buf);
                    self.r.consume(n);
                }
            }
        }
    }
}

/// The lines of file `path` (see [`Lines`]).
pub fn read_lines(path: &Path) -> Result<Lines<std::io::BufReader<std::fs::File>>> {
    let f = std::fs::File::open(path).map_err(|e| PipelineError::io(path, e))?;
    Ok(Lines::new(std::io::BufReader::new(f)))
}

/// The identity of an existing file (device and inode), so that two paths
/// to one file (links, `..`, symlinks) compare equal.
#[cfg(unix)]
fn file_id(p: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_id(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// Every file under `p` (itself if it is a file), recursively.
fn files_under(p: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(p) {
        Ok(entries) => {
            for e in entries.flatten() {
                files_under(&e.path(), out);
            }
        }
        Err(_) => out.push(p.to_path_buf()),
    }
}

/// Refuses outputs that are one of the inputs (any file under an input
/// directory) or one another: `(flag, path)` pairs, for the message.
pub fn refuse_overwrite(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    let mut input_files = Vec::new();
    for (flag, p) in inputs {
        let mut files = Vec::new();
        files_under(p, &mut files);
        input_files.extend(
            files
                .iter()
                .filter_map(|f| file_id(f))
                .map(|id| (id, *flag, *p)),
        );
    }
    // Outputs by file identity when they exist, else by absolute path.
    let mut existing = Vec::new();
    let mut new = Vec::new();
    for (flag, out) in outputs {
        let other = match file_id(out) {
            Some(id) => {
                if let Some((_, inflag, inpath)) = input_files.iter().find(|(t, _, _)| *t == id) {
                    return Err(PipelineError::Usage(format!(
                        "{flag} {} is the input {inflag} {}: refusing to overwrite an input",
                        out.display(),
                        inpath.display()
                    )));
                }
                let other = existing.iter().find(|(t, _)| *t == id).map(|(_, f)| *f);
                existing.push((id, *flag));
                other
            }
            None => {
                let abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
                let other = new.iter().find(|(p, _)| *p == abs).map(|(_, f)| *f);
                new.push((abs, *flag));
                other
            }
        };
        if let Some(other) = other {
            return Err(PipelineError::Usage(format!(
                "{flag} {} is also {other}: every output needs a file of its own",
                out.display()
            )));
        }
    }
    Ok(())
}

/// An output file written under a temporary name in its directory and
/// renamed over `path` by [`Output::commit`]; dropped uncommitted (an
/// error), the temporary file is removed and `path` is left as it was.
pub struct Output {
    path: PathBuf,
    w: BufWriter<tempfile::NamedTempFile>,
}

impl Output {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> Result<Self> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path
            .file_name()
            .map_or_else(|| std::ffi::OsString::from("out"), |n| n.to_os_string());
        let tmp = tempfile::Builder::new()
            .prefix(&{
                let mut p = std::ffi::OsString::from(".");
                p.push(&name);
                p.push(".");
                p
            })
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(|e| PipelineError::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            w: BufWriter::new(tmp),
        })
    }

    /// Writes one line (`line` and `\n`).
    pub fn line(&mut self, line: &[u8]) -> Result<()> {
        self.w
            .write_all(line)
            .and_then(|_| self.w.write_all(b"\n"))
            .map_err(|e| PipelineError::io(&self.path, e))
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let tmp = self
            .w
            .into_inner()
            .map_err(|e| PipelineError::io(&path, e.into_error()))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| PipelineError::io(&path, e))?;
        tmp.persist(&path)
            .map_err(|e| PipelineError::io(&path, e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(b: &[u8]) -> Vec<Vec<u8>> {
        // A one-byte buffer puts a CR and its LF in different reads.
        let r = std::io::BufReader::with_capacity(1, b);
        Lines::new(r).map(|l| l.unwrap()).collect()
    }

    #[test]
    fn lf_crlf_and_lone_cr_all_end_lines() {
        let want: Vec<Vec<u8>> = vec![b"a".to_vec(), b"bc".to_vec(), b"".to_vec(), b"d".to_vec()];
        assert_eq!(lines(b"a\nbc\n\nd\n"), want);
        assert_eq!(lines(b"a\r\nbc\r\n\r\nd"), want);
        assert_eq!(lines(b"a\rbc\r\rd\r"), want);
        assert_eq!(lines(b"a\rbc\n\r\nd"), want);
        assert!(lines(b"").is_empty());
        assert_eq!(lines(b"\r"), vec![b"".to_vec()]);
    }
}
