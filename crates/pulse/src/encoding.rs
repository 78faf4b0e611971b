//! Text that is not UTF-8: Windows-1252, what spreadsheets and older tools
//! on Windows write. A mapping declares it (`encoding = "windows-1252"`)
//! and its files are read through [`Windows1252Reader`]; `pulse train
//! --table` falls back to it cell by cell.

use std::io::{self, Read};
use std::path::Path;

/// How a mapped file's bytes are read as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Encoding {
    #[default]
    Utf8,
    Windows1252,
}

impl Encoding {
    /// A mapping's `encoding`. The Latin-1 labels mean Windows-1252, as in
    /// browsers (the WHATWG Encoding Standard): files labelled Latin-1 are
    /// almost always Windows-1252.
    pub(crate) fn parse(s: &str) -> Result<Encoding, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1252" | "cp1252" | "latin-1" | "latin1" | "iso-8859-1" => {
                Ok(Encoding::Windows1252)
            }
            other => Err(format!(
                "encoding '{other}' is not known (use utf-8 or windows-1252)"
            )),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

/// Opens `path` for reading as UTF-8 text in `encoding`.
pub(crate) fn open(path: &Path, encoding: Encoding) -> io::Result<Box<dyn Read + Send>> {
    let file = std::fs::File::open(path)?;
    Ok(match encoding {
        Encoding::Utf8 => Box::new(file),
        Encoding::Windows1252 => Box::new(Windows1252Reader::new(file)),
    })
}

/// The character of one Windows-1252 byte: Latin-1 but for 0x80-0x9F,
/// where it has the euro sign, curly quotes and dashes (its five unassigned
/// bytes are kept as the C1 controls Latin-1 reads).
pub(crate) fn windows_1252_char(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Bytes read as Windows-1252.
pub(crate) fn windows_1252(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| windows_1252_char(b)).collect()
}

/// Reads Windows-1252 bytes as UTF-8. Every byte is one character, so a
/// chunk may end anywhere.
pub(crate) struct Windows1252Reader<R> {
    inner: R,
    raw: Vec<u8>,
    text: Vec<u8>,
    at: usize,
}

impl<R: Read> Windows1252Reader<R> {
    pub(crate) fn new(inner: R) -> Self {
        Windows1252Reader {
            inner,
            raw: vec![0; 64 * 1024],
            text: Vec::new(),
            at: 0,
        }
    }
}

impl<R: Read> Read for Windows1252Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.text.len() {
            let n = self.inner.read(&mut self.raw)?;
            self.text.clear();
            self.at = 0;
            for &b in &self.raw[..n] {
                if b.is_ascii() {
                    self.text.push(b);
                } else {
                    let mut utf8 = [0u8; 4];
                    self.text
                        .extend_from_slice(windows_1252_char(b).encode_utf8(&mut utf8).as_bytes());
                }
            }
        }
        let n = out.len().min(self.text.len() - self.at);
        out[..n].copy_from_slice(&self.text[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_bytes_become_their_characters() {
        assert_eq!(
            windows_1252(b"Caf\xe9 \x80 5 \x93ok\x94 \x81 \xff"),
            "Café € 5 “ok” \u{81} ÿ"
        );
        // Through the reader, in reads of any size.
        let bytes: Vec<u8> = (0u8..=255).cycle().take(200_000).collect();
        let want = windows_1252(&bytes);
        for size in [1, 3, 4096, 1 << 20] {
            let mut r = Windows1252Reader::new(&bytes[..]);
            let mut got = Vec::new();
            let mut buf = vec![0u8; size];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(String::from_utf8(got).unwrap(), want, "reads of {size}");
        }
    }

    #[test]
    fn encodings_by_name() {
        assert_eq!(Encoding::parse(" UTF-8"), Ok(Encoding::Utf8));
        assert_eq!(Encoding::parse("Windows-1252"), Ok(Encoding::Windows1252));
        assert_eq!(Encoding::parse("latin1"), Ok(Encoding::Windows1252));
        assert_eq!(
            Encoding::parse("utf-16").unwrap_err(),
            "encoding 'utf-16' is not known (use utf-8 or windows-1252)"
        );
    }
}
