//! Labelled corpora: parsers for the formats the default model is trained on
//! (VADER ground truth, UCI labelled sentences) and for Pulse's own
//! `text,label` CSV, a CSV writer, and the seeded stratified split.
//!
//! Parsers take `&str` (the caller reads the file) and report the first bad
//! line with its 1-based number.

use std::collections::BTreeMap;
use std::io::{self, Write};

use pulse_core::Sentiment;

use crate::error::SentimentError;
use crate::rng::SplitMix64;

/// VADER ground-truth ratings strictly between `-VADER_NEUTRAL_BAND` and
/// `+VADER_NEUTRAL_BAND` are neutral. The ratings are means over about 20
/// raters on a -4..+4 scale, so 0.5 is an eighth of the way to "extremely".
pub const VADER_NEUTRAL_BAND: f32 = 0.5;

/// A text with its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledText {
    pub text: String,
    pub label: Sentiment,
}

/// One line of a VADER ground-truth file: the mean human rating on -4..+4.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedText {
    pub id: String,
    pub rating: f32,
    pub text: String,
}

impl RatedText {
    /// The three-class label of the rating, see [`vader_label`].
    pub fn label(&self) -> Sentiment {
        vader_label(self.rating)
    }

    pub fn into_labelled(self) -> LabelledText {
        LabelledText {
            label: self.label(),
            text: self.text,
        }
    }
}

/// Three classes from a mean VADER rating: below -0.5 negative, above +0.5
/// positive, neutral in between (bounds included), see [`VADER_NEUTRAL_BAND`].
pub fn vader_label(rating: f32) -> Sentiment {
    if rating < -VADER_NEUTRAL_BAND {
        Sentiment::Negative
    } else if rating > VADER_NEUTRAL_BAND {
        Sentiment::Positive
    } else {
        Sentiment::Neutral
    }
}

/// Borrow a corpus as the `(text, label)` pairs training and evaluation take.
pub fn as_pairs(docs: &[LabelledText]) -> Vec<(&str, Sentiment)> {
    docs.iter().map(|d| (d.text.as_str(), d.label)).collect()
}

/// Lines ending in `\n` or `\r\n`; other line separators (U+0085, U+2028)
/// stay inside the text, which is how the UCI files use them.
fn lines(input: &str) -> impl Iterator<Item = (usize, &str)> {
    input
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
}

/// Parse a VADER ground-truth file (Hutto and Gilbert, ICWSM 2014):
/// `id<TAB>mean_rating<TAB>text` per line, CRLF or LF, blank lines skipped.
pub fn parse_vader_groundtruth(input: &str) -> Result<Vec<RatedText>, SentimentError> {
    let mut out = Vec::new();
    for (line, l) in lines(input) {
        if l.trim().is_empty() {
            continue;
        }
        let mut parts = l.splitn(3, '\t');
        let (Some(id), Some(rating), Some(text)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SentimentError::parse(
                line,
                "expected id<TAB>rating<TAB>text",
            ));
        };
        let rating: f32 = rating.trim().parse().map_err(|_| {
            SentimentError::parse(line, format!("rating '{rating}' is not a number"))
        })?;
        if !(-4.0..=4.0).contains(&rating) {
            return Err(SentimentError::parse(
                line,
                format!("rating {rating} is outside -4..4"),
            ));
        }
        out.push(RatedText {
            id: id.trim().to_owned(),
            rating,
            text: text.trim().to_owned(),
        });
    }
    Ok(out)
}

/// Parse a UCI "sentiment labelled sentences" file (Kotzias et al., KDD 2015):
/// `sentence<TAB>0|1` per line, 1 positive, 0 negative. The split is on the
/// last tab, since sentences may hold stray quotes and tabs.
pub fn parse_uci(input: &str) -> Result<Vec<LabelledText>, SentimentError> {
    let mut out = Vec::new();
    for (line, l) in lines(input) {
        if l.trim().is_empty() {
            continue;
        }
        let Some((text, label)) = l.rsplit_once('\t') else {
            return Err(SentimentError::parse(line, "expected sentence<TAB>0|1"));
        };
        let label = match label.trim() {
            "0" => Sentiment::Negative,
            "1" => Sentiment::Positive,
            other => {
                return Err(SentimentError::parse(
                    line,
                    format!("label '{other}' is not 0 or 1"),
                ));
            }
        };
        out.push(LabelledText {
            text: text.trim().to_owned(),
            label,
        });
    }
    Ok(out)
}

/// A label as written in a CSV: `negative`/`neutral`/`positive` (any case,
/// also `neg`/`neu`/`pos`) or `-1`/`0`/`1`.
pub fn parse_label(text: &str) -> Option<Sentiment> {
    match text.trim().to_ascii_lowercase().as_str() {
        "negative" | "neg" | "-1" => Some(Sentiment::Negative),
        "neutral" | "neu" | "0" => Some(Sentiment::Neutral),
        "positive" | "pos" | "1" | "+1" => Some(Sentiment::Positive),
        _ => None,
    }
}

/// Parse a `text,label` CSV (RFC 4180 quoting; LF or CRLF; optional
/// `text,label` header; blank lines skipped). An unquoted text may contain
/// commas: everything before the last comma of the record is the text.
pub fn parse_labelled_csv(input: &str) -> Result<Vec<LabelledText>, SentimentError> {
    let mut out = Vec::new();
    for (n, record) in csv_records(input)?.into_iter().enumerate() {
        let CsvRecord { line, mut fields } = record;
        if fields.len() == 1 && fields[0].trim().is_empty() {
            continue;
        }
        if n == 0
            && fields.len() == 2
            && fields[0].trim().eq_ignore_ascii_case("text")
            && fields[1].trim().eq_ignore_ascii_case("label")
        {
            continue;
        }
        if fields.len() < 2 {
            return Err(SentimentError::parse(line, "expected text,label"));
        }
        let label_text = fields.pop().unwrap_or_default();
        let Some(label) = parse_label(&label_text) else {
            return Err(SentimentError::parse(
                line,
                format!(
                    "label '{}' is not negative, neutral, positive, -1, 0 or 1",
                    label_text.trim()
                ),
            ));
        };
        out.push(LabelledText {
            text: fields.join(","),
            label,
        });
    }
    Ok(out)
}

/// Write `text,label` CSV that [`parse_labelled_csv`] reads back: a header,
/// every text quoted, labels as `negative`/`neutral`/`positive`.
pub fn write_labelled_csv<'a, W: Write>(
    mut w: W,
    docs: impl IntoIterator<Item = (&'a str, Sentiment)>,
) -> io::Result<()> {
    writeln!(w, "text,label")?;
    for (text, label) in docs {
        writeln!(w, "\"{}\",{}", text.replace('"', "\"\""), label)?;
    }
    w.flush()
}

struct CsvRecord {
    /// Line on which the record starts.
    line: usize,
    fields: Vec<String>,
}

fn csv_records(input: &str) -> Result<Vec<CsvRecord>, SentimentError> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start_line = 1;
    let mut in_quotes = false;
    let mut quoted_at = 0;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => {
                in_quotes = true;
                quoted_at = line;
            }
            ',' => fields.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                records.push(CsvRecord {
                    line: start_line,
                    fields: std::mem::take(&mut fields),
                });
                line += 1;
                start_line = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(SentimentError::parse(
            quoted_at,
            "unterminated quoted field",
        ));
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push(CsvRecord {
            line: start_line,
            fields,
        });
    }
    Ok(records)
}

/// Split `items` into `(train, test)`: within each stratum (`key`), a seeded
/// shuffle puts `round(len * test_fraction)` items into `test`. Both halves
/// keep the input order. The same items, fraction and seed give the same
/// split on every platform. `test_fraction` is clamped to `0..=1` (NaN is 0).
pub fn stratified_split<T, K: Ord>(
    items: Vec<T>,
    test_fraction: f64,
    seed: u64,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Vec<T>) {
    let fraction = if test_fraction.is_nan() {
        0.0
    } else {
        test_fraction.clamp(0.0, 1.0)
    };
    let mut strata: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        strata.entry(key(item)).or_default().push(i);
    }
    let mut rng = SplitMix64::new(seed);
    let mut is_test = vec![false; items.len()];
    for members in strata.values_mut() {
        rng.shuffle(members);
        let n_test = (members.len() as f64 * fraction).round() as usize;
        for &i in &members[..n_test.min(members.len())] {
            is_test[i] = true;
        }
    }
    let mut train = Vec::new();
    let mut test = Vec::new();
    for (item, t) in items.into_iter().zip(is_test) {
        if t {
            test.push(item);
        } else {
            train.push(item);
        }
    }
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Sentiment::*;

    #[test]
    fn vader_crlf_and_band() {
        let input = "1_1\t-0.9\ttroubleshooting no picture.\r\n1_2\t0.5\tneutral one\r\n\
                     3\t2.26666666667\tThe Rock is great\r\n\r\n";
        let docs = parse_vader_groundtruth(input).unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].id, "1_1");
        assert_eq!(docs[0].text, "troubleshooting no picture.");
        let labels: Vec<_> = docs.iter().map(RatedText::label).collect();
        assert_eq!(labels, [Negative, Neutral, Positive]);
        assert_eq!(vader_label(-0.5), Neutral);
        assert_eq!(vader_label(-0.51), Negative);
        let err = parse_vader_groundtruth("a\tb\tc\n").unwrap_err();
        assert_eq!(err.to_string(), "line 1: rating 'b' is not a number");
        let err = parse_vader_groundtruth("ok\t1\tfine\nbad line\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: expected id<TAB>rating<TAB>text");
        assert!(parse_vader_groundtruth("x\t9\tt").is_err());
    }

    #[test]
    fn uci_splits_on_the_last_tab() {
        let input = "Wow... Loved this place.\t1\nA \"quoted\ttab\" line.  \t0\n\
                     line with\u{85}NEL\t1";
        let docs = parse_uci(input).unwrap();
        assert_eq!(docs.len(), 3);
        assert_eq!(docs[0].label, Positive);
        assert_eq!(docs[1].text, "A \"quoted\ttab\" line.");
        assert_eq!(docs[1].label, Negative);
        assert_eq!(docs[2].text, "line with\u{85}NEL");
        assert_eq!(
            parse_uci("x\t2").unwrap_err().to_string(),
            "line 1: label '2' is not 0 or 1"
        );
    }

    #[test]
    fn labelled_csv_formats() {
        let input = "text,label\r\n\"Still waiting, again\",negative\r\nall good,1\r\n\
                     \"said \"\"fine\"\"\",NEUTRAL\nunquoted, with comma,-1\n\n\
                     \"multi\nline\",pos";
        let docs = parse_labelled_csv(input).unwrap();
        let got: Vec<_> = docs.iter().map(|d| (d.text.as_str(), d.label)).collect();
        assert_eq!(
            got,
            [
                ("Still waiting, again", Negative),
                ("all good", Positive),
                ("said \"fine\"", Neutral),
                ("unquoted, with comma", Negative),
                ("multi\nline", Positive),
            ]
        );
        let err = parse_labelled_csv("a,b\nhello,great\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: label 'b' is not negative, neutral, positive, -1, 0 or 1"
        );
        let err = parse_labelled_csv("ok,1\n\"open,1\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: unterminated quoted field");
        let err = parse_labelled_csv("ok,1\nlonely\n").unwrap_err();
        assert_eq!(err.to_string(), "line 2: expected text,label");
    }

    #[test]
    fn csv_round_trip() {
        let docs = [
            ("a \"quote\", a comma", Negative),
            ("two\nlines", Neutral),
            ("", Positive),
        ];
        let mut buf = Vec::new();
        write_labelled_csv(&mut buf, docs.iter().copied()).unwrap();
        let back = parse_labelled_csv(std::str::from_utf8(&buf).unwrap()).unwrap();
        let got: Vec<_> = back.iter().map(|d| (d.text.as_str(), d.label)).collect();
        assert_eq!(got, docs);
    }

    #[test]
    fn split_is_stratified_seeded_and_ordered() {
        let items: Vec<(u32, char)> = (0..1000)
            .map(|i| (i, if i % 10 < 3 { 'a' } else { 'b' }))
            .collect();
        let (train, test) = stratified_split(items.clone(), 0.2, 42, |x| x.1);
        assert_eq!(test.len(), 200);
        assert_eq!(test.iter().filter(|x| x.1 == 'a').count(), 60);
        assert!(train.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(test.windows(2).all(|w| w[0].0 < w[1].0));
        let (_, again) = stratified_split(items.clone(), 0.2, 42, |x| x.1);
        assert_eq!(test, again);
        let (_, other) = stratified_split(items.clone(), 0.2, 43, |x| x.1);
        assert_ne!(test, other);
        let (train, test) = stratified_split(items, f64::NAN, 1, |x| x.1);
        assert_eq!((train.len(), test.len()), (1000, 0));
    }
}
