//! Text that is not UTF-8: Windows-1252, what spreadsheets and older tools
//! on Windows write. A mapping declares it (`encoding = "windows-1252"`)
//! and its files are read through [`Windows1252Reader`]; `pulse train
//! --table` falls back to it cell by cell. A file that starts with a UTF-16
//! byte-order mark (Excel's "Unicode Text", some CRM exports) is read as
//! UTF-16 whatever is declared ([`Utf16Reader`]). CSV files may separate
//! their fields with `;` (spreadsheets where the decimal separator is a
//! comma) or tabs: [`csv_delimiter`] reads it off the header line.

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

/// Opens `path` for reading as UTF-8 text in `encoding`; a file that
/// starts with a UTF-16 byte-order mark is read as UTF-16 (the mark
/// dropped), since no UTF-8 or Windows-1252 text starts with those bytes.
pub(crate) fn open(path: &Path, encoding: Encoding) -> io::Result<Box<dyn Read + Send>> {
    let mut file = std::fs::File::open(path)?;
    let mut bom = [0u8; 2];
    let mut n = 0;
    while n < 2 {
        match file.read(&mut bom[n..])? {
            0 => break,
            k => n += k,
        }
    }
    if let Some(endian) = endian_of_mark(&bom[..n]) {
        return Ok(Box::new(Utf16Reader::new(file, endian)));
    }
    let file = io::Cursor::new(bom[..n].to_vec()).chain(file);
    Ok(match encoding {
        Encoding::Utf8 => Box::new(file),
        Encoding::Windows1252 => Box::new(Windows1252Reader::new(file)),
    })
}

/// How `path`'s text is read when it is not UTF-8 with commas between
/// fields (a CSV file when `csv`), in words for the dry run; `None` when
/// it is, or cannot be opened (the import says why).
pub(crate) fn reading_note(path: &Path, encoding: Encoding, csv: bool) -> Option<String> {
    let text = match (utf16_mark(path).ok()?, encoding) {
        (Some(Endian::Little), _) => Some("UTF-16 text (little-endian, by its byte-order mark)"),
        (Some(Endian::Big), _) => Some("UTF-16 text (big-endian, by its byte-order mark)"),
        (None, Encoding::Windows1252) => Some("Windows-1252 text"),
        (None, Encoding::Utf8) => None,
    };
    let fields = match csv.then(|| csv_delimiter(path, encoding).ok()).flatten() {
        Some(b';') => Some("fields separated by ';'"),
        Some(b'\t') => Some("fields separated by tabs"),
        _ => None,
    };
    let parts: Vec<&str> = text.into_iter().chain(fields).collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The byte order a UTF-16 byte-order mark at the start of `path` gives,
/// if it starts with one.
pub(crate) fn utf16_mark(path: &Path) -> io::Result<Option<Endian>> {
    let mut bom = Vec::with_capacity(2);
    std::fs::File::open(path)?.take(2).read_to_end(&mut bom)?;
    Ok(endian_of_mark(&bom))
}

/// The byte order of a UTF-16 byte-order mark (the first two bytes).
fn endian_of_mark(start: &[u8]) -> Option<Endian> {
    match start {
        [0xFF, 0xFE] => Some(Endian::Little),
        [0xFE, 0xFF] => Some(Endian::Big),
        _ => None,
    }
}

/// The first 64 KiB of `path` as text (see [`open`]).
pub(crate) fn head(path: &Path, encoding: Encoding) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(4096);
    open(path, encoding)?.take(1 << 16).read_to_end(&mut head)?;
    Ok(head)
}

/// A CSV reader of `path`'s text (see [`open`]) with its field separator
/// (see [`csv_delimiter`]); `flexible` lets rows have other lengths than
/// the header.
pub(crate) fn csv_reader(
    path: &Path,
    encoding: Encoding,
    flexible: bool,
) -> io::Result<csv::Reader<Box<dyn Read + Send>>> {
    Ok(csv::ReaderBuilder::new()
        .flexible(flexible)
        .delimiter(csv_delimiter(path, encoding)?)
        .from_reader(open(path, encoding)?))
}

/// The field separator of the CSV file at `path` (see [`delimiter_of`]).
pub(crate) fn csv_delimiter(path: &Path, encoding: Encoding) -> io::Result<u8> {
    Ok(delimiter_of(&head(path, encoding)?))
}

/// The field separator of CSV text: whichever of `,`, `;` and tab its
/// first line holds most of outside quotes; `,` on a tie or when it holds
/// none (a file of one column).
pub(crate) fn delimiter_of(text: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let mut quoted = false;
    for &b in text {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            _ => {}
        }
    }
    let mut best = (b',', counts[0]);
    for (d, c) in [(b';', counts[1]), (b'\t', counts[2])] {
        if c > best.1 {
            best = (d, c);
        }
    }
    best.0
}

/// `text` as UTF-16 in `endian` order after its byte-order mark, as a
/// test's file.
#[cfg(test)]
pub(crate) fn utf16_with_bom(text: &str, endian: Endian) -> Vec<u8> {
    let mut out = match endian {
        Endian::Little => vec![0xFF, 0xFE],
        Endian::Big => vec![0xFE, 0xFF],
    };
    for u in text.encode_utf16() {
        out.extend(match endian {
            Endian::Little => u.to_le_bytes(),
            Endian::Big => u.to_be_bytes(),
        });
    }
    out
}

/// The byte order of UTF-16 text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

/// Reads UTF-16 bytes (after their byte-order mark) as UTF-8. A chunk may
/// end inside a code unit or between the two halves of a surrogate pair;
/// a unit that is not valid UTF-16 (an unpaired surrogate, an odd last
/// byte) reads as U+FFFD, as `String::from_utf16_lossy` does.
pub(crate) struct Utf16Reader<R> {
    inner: R,
    endian: Endian,
    raw: Vec<u8>,
    /// A byte of a unit the last chunk cut in half.
    odd: Option<u8>,
    /// A high surrogate the last chunk ended with.
    high: Option<u16>,
    units: Vec<u16>,
    text: Vec<u8>,
    at: usize,
}

impl<R: Read> Utf16Reader<R> {
    pub(crate) fn new(inner: R, endian: Endian) -> Self {
        Utf16Reader {
            inner,
            endian,
            raw: vec![0; 64 * 1024],
            odd: None,
            high: None,
            units: Vec::new(),
            text: Vec::new(),
            at: 0,
        }
    }

    /// Decodes the next chunk into `text`; false at the end of the input.
    fn fill(&mut self) -> io::Result<bool> {
        self.text.clear();
        self.at = 0;
        loop {
            let n = self.inner.read(&mut self.raw)?;
            if n == 0 {
                // What a cut ended with has no other half.
                let rest = usize::from(self.odd.take().is_some())
                    + usize::from(self.high.take().is_some());
                for _ in 0..rest {
                    self.text
                        .extend_from_slice(char::REPLACEMENT_CHARACTER.to_string().as_bytes());
                }
                return Ok(!self.text.is_empty());
            }
            self.units.clear();
            self.units.extend(self.high.take());
            let mut bytes = self.raw[..n].iter().copied();
            let pair = |a: u8, b: u8| match self.endian {
                Endian::Little => u16::from_le_bytes([a, b]),
                Endian::Big => u16::from_be_bytes([a, b]),
            };
            if let Some(a) = self.odd.take() {
                let b = bytes.next().expect("n > 0");
                self.units.push(pair(a, b));
            }
            loop {
                match (bytes.next(), bytes.next()) {
                    (Some(a), Some(b)) => self.units.push(pair(a, b)),
                    (Some(a), None) => {
                        self.odd = Some(a);
                        break;
                    }
                    _ => break,
                }
            }
            // A high surrogate at the end may pair with the next chunk.
            if let Some(&last) = self.units.last()
                && (0xD800..0xDC00).contains(&last)
            {
                self.high = self.units.pop();
            }
            let mut utf8 = [0u8; 4];
            for c in char::decode_utf16(self.units.iter().copied()) {
                let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
                self.text
                    .extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
            }
            if !self.text.is_empty() {
                return Ok(true);
            }
        }
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.text.len() && !self.fill()? {
            return Ok(0);
        }
        let n = out.len().min(self.text.len() - self.at);
        out[..n].copy_from_slice(&self.text[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
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

    /// Everything `r` gives, read `size` bytes at a time.
    fn read_all(mut r: impl Read, size: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = vec![0u8; size];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                return got;
            }
            got.extend_from_slice(&buf[..n]);
        }
    }

    /// A reader that gives at most `size` bytes a read, so chunks end
    /// inside code units and between surrogate halves.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(self.1).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn utf16_in_either_byte_order_reads_as_its_text_in_chunks_of_any_size() {
        let text = "Id;Name;MRR\r\na-1;Café 😀 Zoë;12,5\r\n".repeat(3000);
        let units: Vec<u16> = text.encode_utf16().collect();
        let le: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
        for (bytes, endian) in [(&le, Endian::Little), (&be, Endian::Big)] {
            for chunk in [1, 3, 4, 7, 65536] {
                for size in [1, 5, 4096] {
                    let r = Utf16Reader::new(Trickle(bytes, chunk), endian);
                    let got = String::from_utf8(read_all(r, size)).unwrap();
                    assert!(
                        got == text,
                        "{endian:?}, chunks of {chunk}, reads of {size}"
                    );
                }
            }
        }
        // Unpaired surrogates and an odd last byte read as U+FFFD.
        let mut bad: Vec<u8> = [0x61, 0xD800, 0x62, 0xDC00]
            .iter()
            .flat_map(|u: &u16| u.to_le_bytes())
            .collect();
        bad.extend_from_slice(&0xD83Du16.to_le_bytes());
        bad.push(0x63);
        let r = Utf16Reader::new(Trickle(&bad, 3), Endian::Little);
        assert_eq!(
            String::from_utf8(read_all(r, 2)).unwrap(),
            "a\u{fffd}b\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn a_file_with_a_utf16_mark_is_read_as_utf16_whatever_is_declared() {
        let dir = tempfile::tempdir().unwrap();
        let text = "id,name\na-1,Zoë\n";
        let le = utf16_with_bom(text, Endian::Little);
        let be = utf16_with_bom(text, Endian::Big);
        for (name, bytes) in [("le.csv", le), ("be.csv", be)] {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            for enc in [Encoding::Utf8, Encoding::Windows1252] {
                let got = read_all(open(&path, enc).unwrap(), 1 << 16);
                assert_eq!(String::from_utf8(got).unwrap(), text, "{name} {enc:?}");
            }
        }
        // Other files are read as they are, short ones included.
        for bytes in [&b""[..], b"x", b"id\n", b"\xff"] {
            let path = dir.path().join("plain.csv");
            std::fs::write(&path, bytes).unwrap();
            assert_eq!(read_all(open(&path, Encoding::Utf8).unwrap(), 7), bytes);
        }
    }

    #[test]
    fn the_delimiter_is_the_separator_the_header_holds_most_of_outside_quotes() {
        assert_eq!(delimiter_of(b"id,name,mrr\na;b;c;d;e\n"), b',');
        assert_eq!(delimiter_of(b"Id;Name;MRR\r\n1;\"A, B, C\";12,5\r\n"), b';');
        assert_eq!(delimiter_of(b"id\tname\tmrr\n"), b'\t');
        // Separators inside a quoted header name do not count.
        assert_eq!(delimiter_of(b"\"a;b;c\",d\n"), b',');
        assert_eq!(delimiter_of(b"\"Revenue, monthly\";Name\n"), b';');
        // One column, a tie or nothing: a comma.
        assert_eq!(delimiter_of(b"id\n"), b',');
        assert_eq!(delimiter_of(b"a,b;c\n"), b',');
        assert_eq!(delimiter_of(b""), b',');
    }

    #[test]
    fn the_dry_run_says_how_a_file_is_read_when_it_is_not_plain_utf8_with_commas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.csv");
        let note = |bytes: &[u8], enc, csv| {
            std::fs::write(&path, bytes).unwrap();
            reading_note(&path, enc, csv)
        };
        assert_eq!(note(b"a,b\n1,2\n", Encoding::Utf8, true), None);
        assert_eq!(note(b"a;b\n", Encoding::Utf8, false), None);
        assert_eq!(
            note(b"a;b\n", Encoding::Utf8, true).as_deref(),
            Some("fields separated by ';'")
        );
        assert_eq!(
            note(b"a,b\n", Encoding::Windows1252, true).as_deref(),
            Some("Windows-1252 text")
        );
        let le = utf16_with_bom("a\tb\n", Endian::Little);
        assert_eq!(
            note(&le, Encoding::Utf8, true).as_deref(),
            Some("UTF-16 text (little-endian, by its byte-order mark), fields separated by tabs")
        );
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
