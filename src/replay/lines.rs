//! Line reader for recordings: a plain text file, a gzip file (one stream or
//! several concatenated, as a rotated or appended recorder file is), or a
//! `.zip` holding exactly one such file (stored or deflated), recognised by
//! their magic bytes, not by their names.
//!
//! Contract: not on the hot path. Opening allocates (file handles, a 64 KiB
//! read buffer, the zip directory); [`Recording::next_line`] reads into one
//! reused line buffer, so it only allocates when a line is longer than any
//! before it. It blocks on file I/O and reads no clock. Lines are returned
//! without their `\n` / `\r\n` terminator; empty lines are skipped.
//! Zip members are streamed (inflated as read), never loaded whole; the
//! member's CRC is not checked (a corrupt member surfaces as a decode error
//! of the line, or as [`ReplayError::Io`] from the inflater).

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// What went wrong opening or reading a recording.
#[derive(Debug)]
pub enum ReplayError {
    /// The file could not be opened or read.
    Io(io::Error),
    /// The zip directory is unreadable.
    Zip(&'static str),
    /// The zip holds no file, or more than one.
    ZipEntries(usize),
    /// The zip member uses a compression method other than stored / deflate.
    ZipMethod,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Io(e) => write!(f, "recording I/O error: {e}"),
            ReplayError::Zip(what) => write!(f, "recording zip is unreadable: {what}"),
            ReplayError::ZipEntries(n) => {
                write!(f, "recording zip must hold exactly one file, it holds {n}")
            }
            ReplayError::ZipMethod => {
                f.write_str("recording zip member is neither stored nor deflated")
            }
        }
    }
}

impl std::error::Error for ReplayError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReplayError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ReplayError {
    fn from(e: io::Error) -> Self {
        ReplayError::Io(e)
    }
}

/// A recording being read line by line.
pub struct Recording {
    reader: Box<dyn BufRead + Send>,
    line: Vec<u8>,
    line_no: u64,
    done: bool,
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("line_no", &self.line_no)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

const READ_BUF: usize = 64 * 1024;

impl Recording {
    /// Opens a plain-text, gzipped or zipped recording. A zip is recognised
    /// by its `PK\x03\x04` magic and gzip by `1f 8b`, not by the file name.
    pub fn open(path: impl AsRef<Path>) -> Result<Recording, ReplayError> {
        let mut file = File::open(path.as_ref())?;
        let mut magic = [0u8; 4];
        let n = read_up_to(&mut file, &mut magic)?;
        file.seek(SeekFrom::Start(0))?;
        let reader: Box<dyn BufRead + Send> = if n == 4 && magic == *b"PK\x03\x04" {
            open_zip_member(file)?
        } else if n >= 2 && magic[..2] == [0x1f, 0x8b] {
            Box::new(BufReader::with_capacity(
                READ_BUF,
                flate2::read::MultiGzDecoder::new(BufReader::with_capacity(READ_BUF, file)),
            ))
        } else {
            Box::new(BufReader::with_capacity(READ_BUF, file))
        };
        Ok(Recording::from_reader(reader))
    }

    /// Reads lines from any buffered reader (tests, stdin, pipes).
    pub fn from_reader(reader: Box<dyn BufRead + Send>) -> Recording {
        Recording {
            reader,
            line: Vec::with_capacity(READ_BUF),
            line_no: 0,
            done: false,
        }
    }

    /// The next non-empty line without its terminator, or `None` at the end.
    /// After an error the recording is finished.
    pub fn next_line(&mut self) -> Option<Result<&[u8], ReplayError>> {
        loop {
            if self.done {
                return None;
            }
            self.line.clear();
            match self.reader.read_until(b'\n', &mut self.line) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {
                    self.line_no += 1;
                    let mut end = self.line.len();
                    while end > 0 && matches!(self.line.get(end - 1), Some(b'\n' | b'\r')) {
                        end -= 1;
                    }
                    if end == 0 {
                        continue;
                    }
                    return Some(Ok(self.line.get(..end).unwrap_or(&[])));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReplayError::Io(e)));
                }
            }
        }
    }

    /// Like [`Recording::next_line`], with the line's 1-based number
    /// (blank lines count).
    pub fn next_numbered(&mut self) -> Option<Result<(u64, &[u8]), ReplayError>> {
        match self.next_line()? {
            Ok(_) => {}
            Err(e) => return Some(Err(e)),
        }
        let no = self.line_no;
        let mut end = self.line.len();
        while end > 0 && matches!(self.line.get(end - 1), Some(b'\n' | b'\r')) {
            end -= 1;
        }
        Some(Ok((no, self.line.get(..end).unwrap_or(&[]))))
    }

    /// Number of lines read so far (including skipped empty ones).
    pub fn line_no(&self) -> u64 {
        self.line_no
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(buf.get_mut(n..).unwrap_or(&mut [])) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Locates the single member with the zip crate, then streams its bytes from
/// our own file handle so the reader owns everything it borrows.
fn open_zip_member(file: File) -> Result<Box<dyn BufRead + Send>, ReplayError> {
    let mut raw = file.try_clone()?;
    let mut archive =
        zip::ZipArchive::new(file).map_err(|_| ReplayError::Zip("central directory"))?;
    let mut members = Vec::new();
    for i in 0..archive.len() {
        let m = archive
            .by_index_raw(i)
            .map_err(|_| ReplayError::Zip("member header"))?;
        if !m.is_dir() {
            members.push((m.data_start(), m.compression(), m.compressed_size()));
        }
    }
    let (start, method, size) = match members.as_slice() {
        [one] => *one,
        other => return Err(ReplayError::ZipEntries(other.len())),
    };
    let start = start.ok_or(ReplayError::Zip("member data offset"))?;
    raw.seek(SeekFrom::Start(start))?;
    let body = raw.take(size);
    Ok(match method {
        zip::CompressionMethod::Stored => Box::new(BufReader::with_capacity(READ_BUF, body)),
        zip::CompressionMethod::Deflated => Box::new(BufReader::with_capacity(
            READ_BUF,
            flate2::read::DeflateDecoder::new(body),
        )),
        _ => return Err(ReplayError::ZipMethod),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_terminators_and_skips_blank_lines() {
        let data: &'static [u8] = b"a\r\n\nbb\n\r\nccc";
        let mut r = Recording::from_reader(Box::new(data));
        assert_eq!(r.next_line().unwrap().unwrap(), b"a");
        assert_eq!(r.next_line().unwrap().unwrap(), b"bb");
        assert_eq!(r.next_line().unwrap().unwrap(), b"ccc");
        assert!(r.next_line().is_none());
        assert!(r.next_line().is_none());
        assert_eq!(r.line_no(), 5);
    }

    fn write_zip(
        name: &str,
        members: &[(&str, &[u8])],
        method: zip::CompressionMethod,
    ) -> std::path::PathBuf {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("gapmm-{}-{name}.zip", std::process::id()));
        let mut w = zip::ZipWriter::new(File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        for (n, body) in members {
            w.start_file(*n, opts).unwrap();
            w.write_all(body).unwrap();
        }
        w.finish().unwrap();
        path
    }

    #[test]
    fn deflated_member_is_inflated_while_streaming() {
        let body: Vec<u8> = (0..2000)
            .flat_map(|i| format!("{{\"n\":{i}}}\r\n").into_bytes())
            .collect();
        let path = write_zip(
            "deflate",
            &[("x.data", &body)],
            zip::CompressionMethod::Deflated,
        );
        let mut r = Recording::open(&path).unwrap();
        let mut i = 0;
        while let Some(l) = r.next_line() {
            assert_eq!(l.unwrap(), format!("{{\"n\":{i}}}").as_bytes());
            i += 1;
        }
        std::fs::remove_file(&path).unwrap();
        assert_eq!(i, 2000);
    }

    #[test]
    fn zip_with_two_members_is_rejected() {
        let path = write_zip(
            "two",
            &[("a", b"1\n"), ("b", b"2\n")],
            zip::CompressionMethod::Stored,
        );
        let e = Recording::open(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(e, ReplayError::ZipEntries(2)), "{e}");
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let e = Recording::open("/nonexistent/recording.data").unwrap_err();
        assert!(matches!(e, ReplayError::Io(_)), "{e}");
    }
}
