//! Fuzz-ish robustness: 2,000 seeded random strings (random bytes read
//! lossily, mixed scripts, control and combining characters, emoticon and
//! punctuation soup, strings around the 16 KiB cut) go through the tokeniser,
//! `predict`, `predict_batch` and `explain` without a panic and with
//! well-formed output.

use pulse_sentiment::tokenize::{self, TokenConfig};
use pulse_sentiment::{MAX_TEXT_BYTES, Sentiment, SentimentModel, TrainParams};

/// xorshift64*: enough randomness for input generation, seeded and portable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const PIECES: &[&str] = &[
    ":)",
    ":(",
    ":-(",
    ":'(",
    "<3",
    "</3",
    "xD",
    "D:",
    "):",
    "(:",
    "!!!",
    "???",
    "?!",
    "...",
    "n't",
    "not",
    "NOT",
    "never",
    "very",
    "SO",
    "still",
    "waiting",
    "great",
    "awful",
    "http://",
    "www.",
    "@",
    "@user",
    "#",
    "'",
    "’",
    "\"",
    ",",
    ".",
    "-_-",
    "^_^",
    "😀",
    "😡",
    "👍",
    "❤️",
    "\u{0}",
    "\u{85}",
    "\u{200B}",
    "\u{202E}",
    "\u{FEFF}",
    "\u{FFFD}",
    "\u{301}",
    "é",
    "ß",
    "İ",
    "ǅ",
    "ﬃ",
    "日本語",
    "עברית",
    "العربية",
    "Ελληνικά",
    "🏳️‍🌈",
    "\r\n",
    "\t",
    " ",
    "1234",
    "10:30",
    "ÉTÉ",
    "aaaaaaa",
    "x",
];

fn random_text(rng: &mut Rng) -> String {
    // Long texts are 1 in 100: they dominate the run time of a debug build.
    let kind = match rng.below(100) {
        0 => 3,
        k => [0, 1, 2, 4][k % 4],
    };
    match kind {
        0 => {
            let n = rng.below(300);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => (0..rng.below(200))
            .filter_map(|_| char::from_u32(rng.below(0x11_0000) as u32))
            .collect(),
        2 => {
            let mut s = String::new();
            for _ in 0..rng.below(60) {
                s.push_str(PIECES[rng.below(PIECES.len())]);
                if rng.below(3) == 0 {
                    s.push(' ');
                }
            }
            s
        }
        3 => {
            // Around the cut, with multi-byte chars straddling it.
            let filler = ["é", "€", "😀", "a", "ab "][rng.below(5)];
            let mut s = "x".repeat(MAX_TEXT_BYTES - 3 + rng.below(4));
            for _ in 0..rng.below(8) {
                s.push_str(filler);
            }
            s
        }
        _ => (0..rng.below(200))
            .map(|_| char::from(b' ' + rng.below(95) as u8))
            .collect(),
    }
}

fn toy_model() -> SentimentModel {
    let docs = [
        ("great support, thanks :)", Sentiment::Positive),
        ("very happy, works great!", Sentiment::Positive),
        ("terrible, still waiting :(", Sentiment::Negative),
        ("not resolved, awful!!!", Sentiment::Negative),
        ("please send the invoice", Sentiment::Neutral),
        ("the meeting is on monday", Sentiment::Neutral),
    ];
    let params = TrainParams {
        min_df: 1,
        calibration_fraction: 0.0,
        max_iterations: 10,
        ..TrainParams::default()
    };
    SentimentModel::train(&docs, &params).unwrap()
}

#[test]
fn random_strings_never_panic() {
    let model = toy_model();
    let config = TokenConfig::default();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let texts: Vec<String> = (0..2000).map(|_| random_text(&mut rng)).collect();
    for text in &texts {
        let features = tokenize::features(text, &config);
        assert!(features.iter().all(|f| !f.is_empty()), "{text:?}");
        let p = model.predict(text);
        assert!(
            p.score.is_finite() && (-1.0..=1.0).contains(&p.score),
            "{text:?}: {p:?}"
        );
        let sum: f32 = p.probabilities.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "{text:?}: {p:?}");
        assert_eq!(p.truncated, text.len() > MAX_TEXT_BYTES);
        for phrase in model.explain(text, 5) {
            assert!(phrase.contribution.is_finite(), "{text:?}");
        }
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = model.predict_batch(&refs);
    for (text, p) in refs.iter().zip(&batch) {
        assert_eq!(*p, model.predict(text));
    }
}
