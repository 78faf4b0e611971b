//! Tokenisation of interaction text into the features the model weighs.
//!
//! One pass over the text produces, in order of appearance:
//!
//! | feature | example | notes |
//! |---|---|---|
//! | word unigram | `refund` | lower-cased, `’` read as `'`, letters repeated 3+ times cut to 2 (`sooo` → `soo`) |
//! | negated unigram | `NOT_resolved` | the `negation_window` words after a negator (`not`, `no`, `never`, `without`, any `…n't`, …), cut short by clause punctuation, an emoticon or `but`/`however`/`although`/`though` |
//! | word bigram | `still waiting`, `not resolved` | adjacent words inside one clause, never across `.`, `,`, `!`, … |
//! | char n-gram | `#^refu`, `#fund$` | `#` + n chars of `^word$` (n in `char_ngram_min..=char_ngram_max`, default 5 only); words of more than [`MAX_NGRAM_WORD_CHARS`] chars give none |
//! | emphasis | `<!>`, `<!!>`, `<?>`, `<??>`, `<caps>`, `<elong>` | one `!`, a run of `!` (`!!!`), the same for `?`; a word of 3+ letters in capitals in text that also has lower case; an elongated word |
//! | emoticon | `<emo+>` + `:)`, `<emo->` + `:(` | Western emoticons (canonical form) and common emoji, each also as its polarity |
//! | placeholders | `<url>`, `<user>`, `<num>` | links, `@handles`, numbers |
//! | lexicon polarity | `<lex-3>`, `NOT_<lex+2>` | a word of the VADER lexicon, by the sign and strength of its human rating: level 1 below 1.0, 2 below 2.0, 3 from 2.0 (of 4); `NOT_` in negation scope |
//! | support phrase | `<lex-2>` for `still waiting` | a two-word phrase of support frustration ([`support_phrase_level`]: `still waiting`, `third time`, `not resolved`, `no response`, `any update`, ...) counts as a lexicon word of that level |
//!
//! The lexicon features let the model generalise from the words it saw in
//! training to the 7,209 words human raters scored for VADER (Hutto and
//! Gilbert, ICWSM 2014; MIT; `data/vader_lexicon_words.tsv`, compiled in),
//! which matters for support text, whose vocabulary the training corpora
//! cover only in part. The model learns how much each level counts.
//!
//! Support phrases extend that lexicon to two-word phrases customers use
//! when support fails them. The review, tweet and editorial corpora almost
//! never contain them, so a feature of their own would get no weight; as a
//! lexicon level they carry the weight the model learned for words human
//! raters put at that level (`<lex-2>`: "annoyed", "disappointed").
//!
//! Emphasis is also carried into the words themselves, so a linear model can
//! use its sign: a word in capitals (`AWFUL`) or after an intensifier
//! (`very`, `extremely`, `so`, …) is counted once more, i.e. its term frequency
//! is 2 (3 for both).
//!
//! Text longer than [`MAX_TEXT_BYTES`] is cut on a char boundary before
//! tokenising. Nothing here allocates per feature: features are written into a
//! reusable buffer and handed to a callback, which is what lets serving reach
//! its throughput target.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::hash::{IdBuild, index_hash, index_hash_char_gram};

/// Longest text read, in bytes (16 KiB). Longer text is cut at the last char
/// boundary at or before this length and the prediction is flagged `truncated`.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Words longer than this many chars (ids, hashes, base64, junk) give no
/// character n-grams; their unigram is still produced.
pub const MAX_NGRAM_WORD_CHARS: usize = 32;

/// How text becomes features. Stored in the model so serving tokenises
/// exactly as training did; a field added later must default to the
/// behaviour of models written before it.
///
/// The defaults were chosen on validation splits of the default corpus's
/// training part (`examples/tune_default.rs`; macro-F1, mean over three
/// splits, against turning each off): lexicon +1.9 points, bigrams +1.0,
/// negation marking +0.7; emphasis counting made no measurable difference
/// (-0.2, within noise) and stays for support text, where capitals and
/// intensifiers are common. Character 3-5-grams cost 0.5-1.3 points;
/// 5-grams alone (3,000 of them) cost nothing against words only and keep
/// some robustness to misspellings, which the corpus does not measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TokenConfig {
    /// Words after a negator that are marked `NOT_` (0 turns marking off).
    pub negation_window: u8,
    /// Adjacent word pairs inside a clause.
    pub word_bigrams: bool,
    /// Shortest character n-gram (in chars, `^`/`$` word boundaries included).
    pub char_ngram_min: u8,
    /// Longest character n-gram; 0 turns character n-grams off.
    pub char_ngram_max: u8,
    /// Count words in capitals or after an intensifier once more.
    pub emphasis: bool,
    /// Add the VADER lexicon polarity feature of each lexicon word.
    pub lexicon: bool,
    /// Add the lexicon polarity of support phrases (`still waiting`; only
    /// with `lexicon`). Off for models written before it existed, so they
    /// tokenise as they were trained.
    #[serde(default)]
    pub support_phrases: bool,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            negation_window: 3,
            word_bigrams: true,
            char_ngram_min: 5,
            char_ngram_max: 5,
            emphasis: true,
            lexicon: true,
            support_phrases: true,
        }
    }
}

/// The lexicon level (negative) of a two-word support phrase, `None` for
/// other word pairs. Words are lower-cased as the tokeniser sees them.
///
/// | phrase | level |
/// |---|---|
/// | `still` + waiting / broken / not / no / nothing / failing / stuck / down / wrong / missing / unresolved / haven't / hasn't / havent / hasnt | -2 |
/// | third / fourth / fifth / 3rd / 4th / 5th / umpteenth / nth + `time` | -2 |
/// | not / never / isn't / wasn't / hasn't / isnt / wasnt / hasnt / nothing + resolved / fixed / solved / addressed | -2 |
/// | `no` + response / reply / answer / callback / resolution / update / updates | -2 |
/// | nobody / noone + responded / answered / replied / called / calls / answers / responds / replies / cares | -2 |
/// | keeps / kept + failing / crashing / breaking / happening | -2 |
/// | `any` + update / updates / news; `yet again` | -1 |
pub fn support_phrase_level(first: &str, second: &str) -> Option<i8> {
    match first {
        "still" => matches!(
            second,
            "waiting"
                | "broken"
                | "not"
                | "no"
                | "nothing"
                | "failing"
                | "stuck"
                | "down"
                | "wrong"
                | "missing"
                | "unresolved"
                | "haven't"
                | "hasn't"
                | "havent"
                | "hasnt"
        )
        .then_some(-2),
        "third" | "fourth" | "fifth" | "3rd" | "4th" | "5th" | "umpteenth" | "nth" => {
            (second == "time").then_some(-2)
        }
        "not" | "never" | "isn't" | "wasn't" | "hasn't" | "isnt" | "wasnt" | "hasnt"
        | "nothing" => {
            matches!(second, "resolved" | "fixed" | "solved" | "addressed").then_some(-2)
        }
        "no" => matches!(
            second,
            "response" | "reply" | "answer" | "callback" | "resolution" | "update" | "updates"
        )
        .then_some(-2),
        "nobody" | "noone" => matches!(
            second,
            "responded"
                | "answered"
                | "replied"
                | "called"
                | "calls"
                | "answers"
                | "responds"
                | "replies"
                | "cares"
        )
        .then_some(-2),
        "keeps" | "kept" => {
            matches!(second, "failing" | "crashing" | "breaking" | "happening").then_some(-2)
        }
        "any" => matches!(second, "update" | "updates" | "news").then_some(-1),
        "yet" => (second == "again").then_some(-1),
        _ => None,
    }
}

/// The VADER single-word lexicon, `word<TAB>mean rating` per line.
const LEXICON_TSV: &str = include_str!("../data/vader_lexicon_words.tsv");

/// Feature names of the lexicon levels, index `level + 3` (level 0 unused).
const LEXICON_TOKENS: [&str; 7] = [
    "<lex-3>", "<lex-2>", "<lex-1>", "", "<lex+1>", "<lex+2>", "<lex+3>",
];
const LEXICON_NOT_TOKENS: [&str; 7] = [
    "NOT_<lex-3>",
    "NOT_<lex-2>",
    "NOT_<lex-1>",
    "",
    "NOT_<lex+1>",
    "NOT_<lex+2>",
    "NOT_<lex+3>",
];

/// Word hash → polarity level in -3..=3 (never 0), parsed once.
fn lexicon() -> &'static HashMap<u64, i8, IdBuild> {
    static LEXICON: OnceLock<HashMap<u64, i8, IdBuild>> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let mut map = HashMap::default();
        for line in LEXICON_TSV.lines() {
            let Some((word, rating)) = line.split_once('\t') else {
                continue;
            };
            let Ok(rating) = rating.trim().parse::<f32>() else {
                continue;
            };
            if let Some(level) = lexicon_level(rating) {
                map.insert(index_hash(word), level);
            }
        }
        map
    })
}

/// Strength level of a lexicon rating: 1 for |r| < 1, 2 for |r| < 2, else 3,
/// with the rating's sign; `None` for 0.
fn lexicon_level(rating: f32) -> Option<i8> {
    let magnitude = rating.abs();
    let level = if magnitude == 0.0 || !magnitude.is_finite() {
        return None;
    } else if magnitude < 1.0 {
        1
    } else if magnitude < 2.0 {
        2
    } else {
        3
    };
    Some(if rating < 0.0 { -level } else { level })
}

/// Cut `text` to at most [`MAX_TEXT_BYTES`] on a char boundary; the flag says
/// whether anything was cut.
pub fn truncate(text: &str) -> (&str, bool) {
    if text.len() <= MAX_TEXT_BYTES {
        return (text, false);
    }
    let mut end = MAX_TEXT_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// All features of `text`, in order, duplicates kept (a duplicate is one more
/// count of the term). Allocates; serving uses the callback form internally.
pub fn features(text: &str, config: &TokenConfig) -> Vec<String> {
    let mut out = Vec::new();
    let mut scratch = Scratch::default();
    for_each_feature(text, config, &mut scratch, |f, _| out.push(f.to_owned()));
    out
}

/// The word-level features of `text` only: unigrams (with `NOT_` marks),
/// lexicon, emphasis, emoticon and placeholder tokens, without bigrams and character
/// n-grams. Meant for reading and testing the tokeniser.
pub fn word_tokens(text: &str, config: &TokenConfig) -> Vec<String> {
    let config = TokenConfig {
        word_bigrams: false,
        char_ngram_max: 0,
        ..*config
    };
    features(text, &config)
}

/// Reusable buffers for one tokenising thread.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    lower: String,
    unigram: String,
    prev: String,
    feat: String,
    padded: String,
    bounds: Vec<usize>,
    /// Serving: the index hashes of one text's features, in order.
    pub(crate) hashes: Vec<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polarity {
    Pos,
    Neg,
}

/// Emoticons, longest first within a shared prefix. `spaced` ones must stand
/// alone (whitespace or text edge before them) because they read as ordinary
/// punctuation otherwise (`(see below):`).
const EMOTICONS: &[(&str, &str, Polarity, bool)] = &[
    (">:-(", ":(", Polarity::Neg, false),
    (">:(", ":(", Polarity::Neg, false),
    (":'-(", ":'(", Polarity::Neg, false),
    (":'(", ":'(", Polarity::Neg, false),
    (":'-)", ":')", Polarity::Pos, false),
    (":')", ":')", Polarity::Pos, false),
    (":-)", ":)", Polarity::Pos, false),
    (":-D", ":D", Polarity::Pos, false),
    (":-(", ":(", Polarity::Neg, false),
    (":-/", ":/", Polarity::Neg, false),
    (":-P", ":P", Polarity::Pos, false),
    (":-p", ":P", Polarity::Pos, false),
    (":o)", ":)", Polarity::Pos, false),
    (":)", ":)", Polarity::Pos, false),
    (":]", ":)", Polarity::Pos, false),
    (":D", ":D", Polarity::Pos, false),
    (":P", ":P", Polarity::Pos, false),
    (":p", ":P", Polarity::Pos, false),
    (":(", ":(", Polarity::Neg, false),
    (":[", ":(", Polarity::Neg, false),
    (":/", ":/", Polarity::Neg, false),
    (":\\", ":/", Polarity::Neg, false),
    (":@", ":@", Polarity::Neg, false),
    (";-)", ";)", Polarity::Pos, false),
    (";)", ";)", Polarity::Pos, false),
    ("=)", ":)", Polarity::Pos, false),
    ("=D", ":D", Polarity::Pos, false),
    ("=(", ":(", Polarity::Neg, false),
    ("</3", "</3", Polarity::Neg, false),
    ("<3", "<3", Polarity::Pos, false),
    ("^_^", "^_^", Polarity::Pos, false),
    ("-_-", "-_-", Polarity::Neg, true),
    ("(:", ":)", Polarity::Pos, true),
    ("):", ":(", Polarity::Neg, true),
    ("D:", "D:", Polarity::Neg, true),
    ("xD", "xD", Polarity::Pos, true),
    ("XD", "xD", Polarity::Pos, true),
];

fn emoji_polarity(c: char) -> Option<Polarity> {
    match c {
        '😀' | '😁' | '😂' | '😃' | '😄' | '😆' | '😉' | '😊' | '😍' | '😘' | '🙂' | '🤗'
        | '😎' | '👍' | '👏' | '🙏' | '🎉' | '❤' | '💯' | '🥰' | '😻' | '✅' => {
            Some(Polarity::Pos)
        }
        '😞' | '😟' | '😠' | '😡' | '😢' | '😣' | '😤' | '😥' | '😩' | '😫' | '😭' | '🙁' | '☹'
        | '👎' | '💔' | '🤬' | '😒' | '😕' | '🙄' | '😖' | '❌' => {
            Some(Polarity::Neg)
        }
        _ => None,
    }
}

fn is_negator(w: &str) -> bool {
    matches!(
        w,
        "not"
            | "no"
            | "never"
            | "nothing"
            | "nowhere"
            | "nobody"
            | "noone"
            | "none"
            | "neither"
            | "nor"
            | "cannot"
            | "without"
            | "hardly"
            | "barely"
            | "cant"
            | "dont"
            | "doesnt"
            | "didnt"
            | "isnt"
            | "wasnt"
            | "arent"
            | "werent"
            | "wont"
            | "wouldnt"
            | "shouldnt"
            | "couldnt"
            | "havent"
            | "hasnt"
            | "hadnt"
            | "aint"
            | "nope"
    ) || w.ends_with("n't")
}

fn ends_negation(w: &str) -> bool {
    matches!(w, "but" | "however" | "although" | "though" | "except")
}

fn is_intensifier(w: &str) -> bool {
    matches!(
        w,
        "very"
            | "really"
            | "so"
            | "too"
            | "extremely"
            | "totally"
            | "absolutely"
            | "completely"
            | "utterly"
            | "super"
            | "incredibly"
            | "highly"
            | "truly"
            | "seriously"
            | "especially"
            | "exceptionally"
            | "entirely"
            | "thoroughly"
            | "hugely"
            | "remarkably"
            | "particularly"
            | "such"
            | "most"
            | "soo"
            | "sooo"
    )
}

/// Clause breaks end negation scope and bigram chains.
fn is_clause_break(b: u8) -> bool {
    matches!(
        b,
        b'.' | b',' | b';' | b':' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"'
    )
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Per-text tokeniser state.
struct State {
    /// Words still to be marked `NOT_`.
    negation_left: u8,
    /// The previous word was an intensifier.
    intensify: bool,
    /// `Scratch::prev` holds the previous word of this clause.
    have_prev: bool,
    /// The text has lower-case letters, so capitals are emphasis.
    mixed_case: bool,
}

impl State {
    fn clause_break(&mut self) {
        self.negation_left = 0;
        self.intensify = false;
        self.have_prev = false;
    }
}

/// Where the tokeniser's features go.
trait Sink {
    /// One feature and the phrase it is shown under in explanations.
    fn feature(&mut self, feature: &str, group: &str);

    /// The character n-gram `#` + `gram` of the word `group`: built as text
    /// in `buf` and passed to [`feature`](Self::feature), unless the sink
    /// needs less than the text.
    fn char_ngram(&mut self, gram: &str, group: &str, buf: &mut String) {
        buf.clear();
        buf.push('#');
        buf.push_str(gram);
        self.feature(buf, group);
    }
}

/// A closure as a sink.
struct FnSink<F>(F);

impl<F: FnMut(&str, &str)> Sink for FnSink<F> {
    #[inline]
    fn feature(&mut self, feature: &str, group: &str) {
        (self.0)(feature, group)
    }
}

/// A sink that wants only each feature's [`index_hash`]: character n-grams
/// are hashed where they lie in the word, never copied into a string.
struct HashSink<F>(F);

impl<F: FnMut(u64)> Sink for HashSink<F> {
    #[inline]
    fn feature(&mut self, feature: &str, _group: &str) {
        (self.0)(index_hash(feature))
    }

    #[inline]
    fn char_ngram(&mut self, gram: &str, _group: &str, _buf: &mut String) {
        (self.0)(index_hash_char_gram(gram))
    }
}

/// Run `emit(feature, group)` for every feature of `text`. `group` is the
/// phrase a feature is shown under in explanations: a word's character
/// n-grams are grouped under its unigram, every other feature under itself.
pub(crate) fn for_each_feature<F: FnMut(&str, &str)>(
    text: &str,
    config: &TokenConfig,
    s: &mut Scratch,
    emit: F,
) {
    tokenize(text, config, s, &mut FnSink(emit));
}

/// Run `emit(index_hash(feature))` for every feature of `text`, in the order
/// of [`for_each_feature`], with the same hashes; what serving needs, and
/// faster (no character n-gram is copied).
pub(crate) fn for_each_feature_hash<F: FnMut(u64)>(
    text: &str,
    config: &TokenConfig,
    s: &mut Scratch,
    emit: F,
) {
    tokenize(text, config, s, &mut HashSink(emit));
}

fn tokenize<S: Sink>(text: &str, config: &TokenConfig, s: &mut Scratch, emit: &mut S) {
    let (text, _) = truncate(text);
    let bytes = text.as_bytes();
    let mut st = State {
        negation_left: 0,
        intensify: false,
        have_prev: false,
        mixed_case: has_lowercase(text),
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if (b == b'h' || b == b'H' || b == b'w' || b == b'W') && is_url_start(&bytes[i..]) {
            i = skip_to_whitespace(bytes, i);
            emit.feature("<url>", "<url>");
            st.have_prev = false;
            continue;
        }
        if b == b'@'
            && bytes
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'_')
        {
            i += 1;
            while bytes
                .get(i)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'_')
            {
                i += 1;
            }
            emit.feature("<user>", "<user>");
            st.have_prev = false;
            continue;
        }
        if let Some((len, canonical, polarity)) = match_emoticon(bytes, i) {
            let tag = match polarity {
                Polarity::Pos => "<emo+>",
                Polarity::Neg => "<emo->",
            };
            emit.feature(tag, tag);
            emit.feature(canonical, canonical);
            st.clause_break();
            i += len;
            continue;
        }
        if b.is_ascii_alphanumeric() {
            i = word(text, i, config, s, &mut st, emit);
            continue;
        }
        if b < 0x80 {
            match b {
                b'!' | b'?' => {
                    let mut end = i + 1;
                    while bytes.get(end) == Some(&b) {
                        end += 1;
                    }
                    let tag = match (b, end - i > 1) {
                        (b'!', false) => "<!>",
                        (b'!', true) => "<!!>",
                        (_, false) => "<?>",
                        (_, true) => "<??>",
                    };
                    emit.feature(tag, tag);
                    st.clause_break();
                    i = end;
                }
                _ => {
                    if is_clause_break(b) {
                        st.clause_break();
                    }
                    i += 1;
                }
            }
            continue;
        }
        // A multi-byte char: `i` is always on a char boundary here.
        let Some(c) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        if is_word_char(c) {
            i = word(text, i, config, s, &mut st, emit);
            continue;
        }
        if let Some(polarity) = emoji_polarity(c) {
            let tag = match polarity {
                Polarity::Pos => "<emo+>",
                Polarity::Neg => "<emo->",
            };
            emit.feature(tag, tag);
            s.feat.clear();
            s.feat.push(c);
            emit.feature(&s.feat, &s.feat);
            st.clause_break();
        } else if matches!(
            c,
            '…' | '“' | '”' | '«' | '»' | '。' | '，' | '、' | '！' | '？'
        ) {
            st.clause_break();
        }
        i += c.len_utf8();
    }
}

fn has_lowercase(text: &str) -> bool {
    if text.is_ascii() {
        text.bytes().any(|b| b.is_ascii_lowercase())
    } else {
        text.chars().any(char::is_lowercase)
    }
}

fn is_url_start(rest: &[u8]) -> bool {
    let starts = |p: &[u8]| rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p);
    starts(b"http://") || starts(b"https://") || starts(b"www.")
}

fn skip_to_whitespace(bytes: &[u8], mut i: usize) -> usize {
    // Whitespace is ASCII, so stopping on it keeps `i` on a char boundary.
    while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// An emoticon starting at `i`: its byte length, canonical text and polarity.
fn match_emoticon(bytes: &[u8], i: usize) -> Option<(usize, &'static str, Polarity)> {
    let b = bytes[i];
    if !matches!(
        b,
        b':' | b';' | b'=' | b'<' | b'>' | b'^' | b'-' | b'(' | b')' | b'D' | b'x' | b'X'
    ) {
        return None;
    }
    let rest = &bytes[i..];
    let before_ok = i == 0 || bytes[i - 1].is_ascii_whitespace();
    for &(pattern, canonical, polarity, spaced) in EMOTICONS {
        let p = pattern.as_bytes();
        if rest.len() < p.len() || &rest[..p.len()] != p {
            continue;
        }
        if spaced && !before_ok {
            continue;
        }
        // Not glued to a following word (`:Do`, `xDrive`, `re:(fwd)`).
        if let Some(&next) = rest.get(p.len()) {
            if next.is_ascii_alphanumeric() || next >= 0x80 {
                continue;
            }
            if spaced && !(next.is_ascii_whitespace() || next.is_ascii_punctuation()) {
                continue;
            }
        }
        // A letter before a `:`-emoticon is fine (`thanks:)`), a digit is a
        // time or ratio (`10:30`, `2:1`).
        if i > 0 && bytes[i - 1].is_ascii_digit() {
            continue;
        }
        return Some((p.len(), canonical, polarity));
    }
    None
}

/// Tokenise the word starting at `start`; returns the index after it.
fn word<S: Sink>(
    text: &str,
    start: usize,
    config: &TokenConfig,
    s: &mut Scratch,
    st: &mut State,
    emit: &mut S,
) -> usize {
    // Find the end: word chars, and apostrophes between word chars.
    let rest = &text[start..];
    let mut end = rest.len();
    let mut chars = rest.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if is_word_char(c) {
            continue;
        }
        if (c == '\'' || c == '’') && chars.peek().is_some_and(|&(_, n)| is_word_char(n)) {
            continue;
        }
        end = at;
        break;
    }
    let raw = &rest[..end];

    // Lower-case, unify apostrophes, cut letter runs of 3+ to 2.
    s.lower.clear();
    let mut upper = 0usize;
    let mut lower_seen = false;
    let mut digits_only = true;
    let mut elongated = false;
    if raw.is_ascii() {
        // Fast path, same result as the general loop below for ASCII.
        let mut last = 0u8;
        let mut run = 0u32;
        for b in raw.bytes() {
            upper += usize::from(b.is_ascii_uppercase());
            lower_seen |= b.is_ascii_lowercase();
            digits_only &= b.is_ascii_digit();
            let lb = b.to_ascii_lowercase();
            if lb == last {
                run += 1;
            } else {
                last = lb;
                run = 1;
            }
            if run > 2 && lb.is_ascii_alphabetic() {
                elongated = true;
            } else {
                s.lower.push(char::from(lb));
            }
        }
    } else {
        let mut last = '\0';
        let mut run = 0u32;
        for c in raw.chars() {
            if c.is_uppercase() {
                upper += 1;
            } else if c.is_lowercase() {
                lower_seen = true;
            }
            digits_only &= c.is_ascii_digit();
            let c = if c == '’' { '\'' } else { c };
            for lc in c.to_lowercase() {
                if lc == last {
                    run += 1;
                } else {
                    last = lc;
                    run = 1;
                }
                if run > 2 && lc.is_alphabetic() {
                    elongated = true;
                } else {
                    s.lower.push(lc);
                }
            }
        }
    }
    let next = start + end;

    if digits_only {
        emit.feature("<num>", "<num>");
        st.have_prev = false;
        st.intensify = false;
        return next;
    }

    let lw = s.lower.as_str();
    let negator = is_negator(lw);
    let negated = st.negation_left > 0 && !negator && !ends_negation(lw);
    s.unigram.clear();
    if negated {
        s.unigram.push_str("NOT_");
    }
    s.unigram.push_str(lw);

    let caps = st.mixed_case && !lower_seen && upper >= 3;
    let mut count = 1;
    if config.emphasis {
        count += usize::from(st.intensify) + usize::from(caps);
    }
    for _ in 0..count {
        emit.feature(&s.unigram, &s.unigram);
    }
    let level = if config.lexicon {
        lexicon().get(&index_hash(lw)).copied()
    } else {
        None
    };
    if let Some(level) = level {
        let at = (level + 3) as usize;
        let token = if negated {
            LEXICON_NOT_TOKENS[at]
        } else {
            LEXICON_TOKENS[at]
        };
        for _ in 0..count {
            emit.feature(token, &s.unigram);
        }
    }
    if caps {
        emit.feature("<caps>", "<caps>");
    }
    if elongated {
        emit.feature("<elong>", "<elong>");
    }
    if config.word_bigrams && st.have_prev {
        s.feat.clear();
        s.feat.push_str(&s.prev);
        s.feat.push(' ');
        s.feat.push_str(lw);
        emit.feature(&s.feat, &s.feat);
    }
    if config.lexicon
        && config.support_phrases
        && st.have_prev
        && let Some(level) = support_phrase_level(&s.prev, lw)
    {
        // Shown under the phrase in explanations.
        s.feat.clear();
        s.feat.push_str(&s.prev);
        s.feat.push(' ');
        s.feat.push_str(lw);
        emit.feature(LEXICON_TOKENS[(level + 3) as usize], &s.feat);
    }
    if config.char_ngram_max > 0 {
        char_ngrams(config, s, emit);
    }

    // Update state for the next word.
    let lw = s.lower.as_str();
    if negator && config.negation_window > 0 {
        st.negation_left = config.negation_window;
    } else if ends_negation(lw) {
        st.negation_left = 0;
    } else {
        st.negation_left = st.negation_left.saturating_sub(1);
    }
    st.intensify = is_intensifier(lw) || (st.intensify && lw == "and");
    s.prev.clear();
    s.prev.push_str(lw);
    st.have_prev = true;
    next
}

/// `#` + every n-gram of `^word$` for n in the configured range, grouped
/// under the word's unigram.
fn char_ngrams<S: Sink>(config: &TokenConfig, s: &mut Scratch, emit: &mut S) {
    let (lo, hi) = (
        usize::from(config.char_ngram_min.max(1)),
        usize::from(config.char_ngram_max),
    );
    s.padded.clear();
    s.padded.push('^');
    s.padded.push_str(&s.lower);
    s.padded.push('$');
    if s.padded.is_ascii() {
        // Fast path: chars are bytes.
        let n_chars = s.padded.len();
        if n_chars - 2 > MAX_NGRAM_WORD_CHARS {
            return;
        }
        for n in lo..=hi.min(n_chars) {
            for from in 0..=(n_chars - n) {
                emit.char_ngram(&s.padded[from..from + n], &s.unigram, &mut s.feat);
            }
        }
        return;
    }
    s.bounds.clear();
    s.bounds.extend(s.padded.char_indices().map(|(at, _)| at));
    let n_chars = s.bounds.len();
    if n_chars - 2 > MAX_NGRAM_WORD_CHARS {
        return;
    }
    s.bounds.push(s.padded.len());
    for n in lo..=hi.min(n_chars) {
        for from in 0..=(n_chars - n) {
            emit.char_ngram(
                &s.padded[s.bounds[from]..s.bounds[from + n]],
                &s.unigram,
                &mut s.feat,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let config = TokenConfig {
            lexicon: false,
            ..TokenConfig::default()
        };
        word_tokens(text, &config)
    }

    #[test]
    fn support_phrases_count_as_negative_lexicon_words() {
        let config = TokenConfig {
            char_ngram_max: 0,
            word_bigrams: false,
            ..TokenConfig::default()
        };
        let f = features("Still waiting, third time I ask. Not resolved.", &config);
        assert_eq!(
            f,
            [
                "still",
                "waiting",
                "<lex-2>",
                "third",
                "time",
                "<lex-2>",
                "i",
                "ask",
                "not",
                "NOT_resolved",
                // "resolved" is in the VADER lexicon (+1), then the phrase.
                "NOT_<lex+1>",
                "<lex-2>"
            ]
        );
        // Across a clause break there is no phrase; old models have none.
        assert!(!features("still. waiting", &config).contains(&"<lex-2>".to_string()));
        let old = TokenConfig {
            support_phrases: false,
            ..config
        };
        assert!(!features("still waiting", &old).contains(&"<lex-2>".to_string()));
        let parsed: TokenConfig = serde_json::from_str(
            r#"{"negation_window":3,"word_bigrams":true,"char_ngram_min":5,"char_ngram_max":5,"emphasis":true,"lexicon":true}"#,
        )
        .unwrap();
        assert!(!parsed.support_phrases);
        assert_eq!(support_phrase_level("any", "update"), Some(-1));
        assert_eq!(support_phrase_level("still", "great"), None);
    }

    #[test]
    fn lexicon_levels_follow_the_ratings() {
        let config = TokenConfig::default();
        // great 3.1, okay 0.9, thanks 1.9, horrible -2.5; "invoice" is not rated.
        assert_eq!(
            word_tokens("great invoice", &config),
            ["great", "<lex+3>", "invoice"]
        );
        assert_eq!(
            word_tokens("okay thanks", &config),
            ["okay", "<lex+1>", "thanks", "<lex+2>"]
        );
        assert_eq!(
            word_tokens("not horrible", &config),
            ["not", "NOT_horrible", "NOT_<lex-3>"]
        );
        assert_eq!(
            word_tokens("SO HORRIBLE", &config),
            ["so", "horrible", "horrible", "<lex-3>", "<lex-3>"]
        );
        assert_eq!(lexicon_level(0.0), None);
        assert_eq!(lexicon_level(-1.0), Some(-2));
        // 7,217 lines, 8 words twice (`lol`, `ok`, ...; the later line wins).
        assert_eq!(lexicon().len(), 7_209);
        // Lexicon features are explained under their word.
        let mut groups = Vec::new();
        for_each_feature("awful", &config, &mut Scratch::default(), |f, g| {
            if f.starts_with("<lex") {
                groups.push(g.to_owned());
            }
        });
        assert_eq!(groups, ["awful"]);
    }

    #[test]
    fn negation_marks_the_following_words_until_punctuation() {
        assert_eq!(words("not resolved"), ["not", "NOT_resolved"]);
        assert_eq!(
            words("It is not resolved, I am happy"),
            ["it", "is", "not", "NOT_resolved", "i", "am", "happy"]
        );
        assert_eq!(
            words("I don't like it"),
            ["i", "don't", "NOT_like", "NOT_it"]
        );
        assert_eq!(words("I don’t like"), ["i", "don't", "NOT_like"]);
        assert_eq!(words("no problem"), ["no", "NOT_problem"]);
        // The window is three words, and `but` ends it.
        assert_eq!(
            words("never had any issue with support"),
            [
                "never",
                "NOT_had",
                "NOT_any",
                "NOT_issue",
                "with",
                "support"
            ]
        );
        assert_eq!(
            words("not slow but ugly"),
            ["not", "NOT_slow", "but", "ugly"]
        );
    }

    #[test]
    fn negated_bigram_is_kept() {
        let f = features("not resolved", &TokenConfig::default());
        assert!(f.contains(&"not resolved".to_owned()), "{f:?}");
        let f = features("Still waiting for a reply.", &TokenConfig::default());
        assert!(f.contains(&"still waiting".to_owned()), "{f:?}");
        // No bigram across a clause break.
        let f = features("fine. thanks", &TokenConfig::default());
        assert!(!f.contains(&"fine thanks".to_owned()), "{f:?}");
    }

    #[test]
    fn exclamation_and_question_runs() {
        assert_eq!(words("fixed!"), ["fixed", "<!>"]);
        assert_eq!(words("fixed!!!"), ["fixed", "<!!>"]);
        assert_eq!(words("why??"), ["why", "<??>"]);
        assert_eq!(words("really?"), ["really", "<?>"]);
        // `!` ends negation scope.
        assert_eq!(words("not bad! great"), ["not", "NOT_bad", "<!>", "great"]);
    }

    #[test]
    fn emoticons_and_emoji() {
        assert_eq!(words("thanks :)"), ["thanks", "<emo+>", ":)"]);
        assert_eq!(words("thanks:-)"), ["thanks", "<emo+>", ":)"]);
        assert_eq!(
            words("broken again :("),
            ["broken", "again", "<emo->", ":("]
        );
        assert_eq!(words("sigh :'("), ["sigh", "<emo->", ":'("]);
        assert_eq!(words("love it <3"), ["love", "it", "<emo+>", "<3"]);
        assert_eq!(words("great 👍"), ["great", "<emo+>", "👍"]);
        assert_eq!(words("xD"), ["<emo+>", "xD"]);
        // Not emoticons: times, ratios, links, words, plain parentheses.
        assert_eq!(words("at 10:30"), ["at", "<num>", "<num>"]);
        assert_eq!(words("see https://x.io/a:(b)"), ["see", "<url>"]);
        assert_eq!(words("xDrive"), ["xdrive"]);
        assert_eq!(words("(see below):"), ["see", "below"]);
        assert_eq!(words("re:(fwd)"), ["re", "fwd"]);
    }

    #[test]
    fn capitals_and_intensifiers_count_twice() {
        assert_eq!(
            words("this is AWFUL"),
            ["this", "is", "awful", "awful", "<caps>"]
        );
        // All-caps text is not emphasis: there is nothing to stand out from.
        assert_eq!(words("THIS IS AWFUL"), ["this", "is", "awful"]);
        // Short acronyms are not emphasis.
        assert_eq!(words("the UI"), ["the", "ui"]);
        assert_eq!(words("very slow"), ["very", "slow", "slow"]);
        assert_eq!(
            words("not very good"),
            ["not", "NOT_very", "NOT_good", "NOT_good"]
        );
        let plain = TokenConfig {
            emphasis: false,
            ..TokenConfig::default()
        };
        assert_eq!(word_tokens("very SLOW", &plain), ["very", "slow", "<caps>"]);
    }

    #[test]
    fn elongation_placeholders_and_case() {
        assert_eq!(
            words("sooooo goooood"),
            ["soo", "<elong>", "good", "good", "<elong>"]
        );
        assert_eq!(
            words("Hello @anna_b see www.x.com"),
            ["hello", "<user>", "see", "<url>"]
        );
        assert_eq!(words("Ticket 12345"), ["ticket", "<num>"]);
        assert_eq!(words("Großartig Été"), ["großartig", "été"]);
        assert_eq!(words(""), Vec::<String>::new());
        assert_eq!(words(" \t\n "), Vec::<String>::new());
    }

    #[test]
    fn the_hash_stream_is_the_feature_stream_hashed() {
        // Every kind of feature, multi-byte words, a word too long for
        // n-grams, and every n-gram range from none to 1-8.
        let texts = [
            "Still waiting, third time I ask. Not resolved!!! :( @anna https://x.io",
            "Großartig Été, 日本語のテキスト 😀 sooooo goooood VERY BAD ?? 12345",
            "pneumonoultramicroscopicsilicovolcanoconiosis x a ab abc abcd",
            "",
            "l'été’s naïve café: don't, won't; it’s fine :-) <3",
        ];
        for (lo, hi) in [(5, 5), (1, 8), (3, 5), (0, 0), (2, 16)] {
            let config = TokenConfig {
                char_ngram_min: lo,
                char_ngram_max: hi,
                ..TokenConfig::default()
            };
            for text in texts {
                let mut want = Vec::new();
                for_each_feature(text, &config, &mut Scratch::default(), |f, _| {
                    want.push(index_hash(f))
                });
                let mut got = Vec::new();
                for_each_feature_hash(text, &config, &mut Scratch::default(), |h| got.push(h));
                assert_eq!(got, want, "{text} with n-grams {lo}..={hi}");
            }
        }
    }

    #[test]
    fn char_ngrams_are_grouped_by_word() {
        let cfg = TokenConfig {
            char_ngram_min: 3,
            char_ngram_max: 4,
            word_bigrams: false,
            lexicon: false,
            ..TokenConfig::default()
        };
        let mut got = Vec::new();
        for_each_feature("Bad", &cfg, &mut Scratch::default(), |f, g| {
            got.push((f.to_owned(), g.to_owned()))
        });
        let feats: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(feats, ["bad", "#^ba", "#bad", "#ad$", "#^bad", "#bad$"]);
        assert!(got.iter().all(|(_, g)| g == "bad"));
        // Non-ASCII words are cut on chars.
        let f = features("né", &cfg);
        assert_eq!(f, ["né", "#^né", "#né$", "#^né$"]);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let text = "é".repeat(MAX_TEXT_BYTES); // 2 bytes each
        let (cut, was_cut) = truncate(&text);
        assert!(was_cut);
        assert_eq!(cut.len(), MAX_TEXT_BYTES);
        let text = format!("a{}", "€".repeat(MAX_TEXT_BYTES / 3 + 1)); // 3 bytes each
        let (cut, was_cut) = truncate(&text);
        assert!(was_cut);
        assert!(cut.len() <= MAX_TEXT_BYTES && cut.len() > MAX_TEXT_BYTES - 3);
        assert_eq!(truncate("short"), ("short", false));
    }
}
