//! Analyzers: what turns a VarChar value into tokens, with Milvus's `analyzer_params`
//! shapes, for `text_match` filters and for full-text search (BM25, in `quarry-index`).
//!
//! An analyzer is a tokenizer and a chain of filters. `analyzer_params` (a JSON object) names
//! either a built-in analyzer (`{"type": "standard" | "english" | "chinese"}`, with optional
//! `stop_words`) or a custom one (`{"tokenizer": ..., "filter": [...]}`); an absent or empty
//! object is the standard analyzer. Anything Quarry does not implement is refused by name.
//!
//! - tokenizers: `standard` (runs of letters and digits, as Milvus's standard tokenizer),
//!   `whitespace`, `jieba` (Chinese word segmentation, the jieba-rs crate's dictionary);
//! - filters: `lowercase`, `alphanumonly`, `cnalphanumonly`, `cncharonly`, `removepunct`,
//!   `stop` (`stop_words`, where `_english_` stands for the English list), `length` (`max`),
//!   `stemmer` (`language`, the Snowball stemmers of rust-stemmers).

mod filters;

use serde_json::Value as Json;

use filters::Filter;

/// The longest analyzer parameter document taken (it arrives as a type parameter).
pub const MAX_ANALYZER_PARAMS_BYTES: usize = 64 * 1024;

/// How text is cut into tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tokenizer {
    Standard,
    Whitespace,
    Jieba,
}

/// One token of an analyzed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    /// byte offsets of the word it comes from (end exclusive)
    pub start: usize,
    pub end: usize,
    /// the word's place among the tokenizer's words, from 0
    pub position: usize,
}

/// A tokenizer and its filters, ready to analyze text.
#[derive(Debug, Clone, PartialEq)]
pub struct Analyzer {
    tokenizer: Tokenizer,
    filters: Vec<Filter>,
}

fn invalid(msg: impl Into<String>) -> String {
    msg.into()
}

impl Analyzer {
    /// The standard analyzer: the standard tokenizer and lowercase.
    pub fn standard() -> Self {
        Analyzer {
            tokenizer: Tokenizer::Standard,
            filters: vec![Filter::Lowercase],
        }
    }

    /// The analyzer of a field's `analyzer_params` (absent: standard). The error is the reason
    /// in words.
    pub fn from_params(params: Option<&str>) -> Result<Self, String> {
        let Some(raw) = params.map(str::trim).filter(|p| !p.is_empty()) else {
            return Ok(Self::standard());
        };
        if raw.len() > MAX_ANALYZER_PARAMS_BYTES {
            return Err(invalid(format!(
                "analyzer_params is {} bytes, more than the maximum of \
                 {MAX_ANALYZER_PARAMS_BYTES}",
                raw.len()
            )));
        }
        let json: Json = serde_json::from_str(raw)
            .map_err(|e| invalid(format!("analyzer params should be a json map: {e}")))?;
        let Json::Object(map) = json else {
            return Err(invalid("analyzer params should be a json map"));
        };
        if map.is_empty() {
            return Ok(Self::standard());
        }
        if let Some(kind) = map.get("type") {
            let kind = kind
                .as_str()
                .ok_or_else(|| invalid("analyzer type should be string"))?;
            for key in map.keys() {
                if key != "type" && key != "stop_words" {
                    return Err(invalid(format!(
                        "the built-in analyzer {kind} takes no parameter {key:?} (it takes \
                         stop_words)"
                    )));
                }
            }
            let stop = match map.get("stop_words") {
                None => None,
                Some(words) => Some(filters::stop_words(words)?),
            };
            let (tokenizer, mut filters) = match kind {
                "standard" => (Tokenizer::Standard, vec![Filter::Lowercase]),
                "english" => (
                    Tokenizer::Standard,
                    vec![
                        Filter::Lowercase,
                        Filter::Stop(filters::english_stop_words()),
                        Filter::stemmer("english")?,
                    ],
                ),
                "chinese" => (Tokenizer::Jieba, vec![Filter::CnAlphanumOnly]),
                other => {
                    return Err(invalid(format!(
                        "unsupported analyzer type {other:?} (quarry serves standard, english \
                         and chinese, and custom analyzers)"
                    )))
                }
            };
            if let Some(stop) = stop {
                // the user's list replaces the built-in one, before stemming
                filters.retain(|f| !matches!(f, Filter::Stop(_)));
                let at = filters
                    .iter()
                    .position(|f| matches!(f, Filter::Stemmer(_)))
                    .unwrap_or(filters.len());
                filters.insert(at, Filter::Stop(stop));
            }
            return Ok(Analyzer { tokenizer, filters });
        }
        for key in map.keys() {
            if key != "tokenizer" && key != "filter" {
                return Err(invalid(format!(
                    "unknown analyzer parameter {key:?} (a custom analyzer takes tokenizer and \
                     filter)"
                )));
            }
        }
        let tokenizer = match map.get("tokenizer") {
            None => return Err(invalid("tokenizer name or type must be set")),
            Some(t) => tokenizer(t)?,
        };
        let filters = match map.get("filter") {
            None => vec![],
            Some(Json::Array(items)) => items
                .iter()
                .map(Filter::from_json)
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(invalid("filter params should be array")),
        };
        Ok(Analyzer { tokenizer, filters })
    }

    /// The tokens of `text`, in order, after the filters.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        self.analyze(text).into_iter().map(|t| t.text).collect()
    }

    /// The tokens of `text` with where they come from: byte offsets of the word in `text` and
    /// its position among the tokenizer's words (a word a filter drops keeps its position).
    pub fn analyze(&self, text: &str) -> Vec<Token> {
        let at = |w: &str| w.as_ptr() as usize - text.as_ptr() as usize;
        let words: Vec<(usize, &str)> = match self.tokenizer {
            Tokenizer::Standard => text
                .split(|c: char| !c.is_alphanumeric())
                .filter(|t| !t.is_empty())
                .map(|w| (at(w), w))
                .collect(),
            Tokenizer::Whitespace => text.split_whitespace().map(|w| (at(w), w)).collect(),
            Tokenizer::Jieba => filters::jieba_cut(text),
        };
        words
            .into_iter()
            .enumerate()
            .filter_map(|(position, (start, w))| {
                let text = self
                    .filters
                    .iter()
                    .try_fold(w.to_string(), |t, f| f.apply(t))?;
                Some(Token {
                    text,
                    start,
                    end: start + w.len(),
                    position,
                })
            })
            .collect()
    }
}

fn tokenizer(t: &Json) -> Result<Tokenizer, String> {
    let name = match t {
        Json::String(s) => s.as_str(),
        Json::Object(m) => {
            for key in m.keys() {
                if key != "type" {
                    return Err(invalid(format!(
                        "the tokenizer parameter {key:?} is not supported by quarry"
                    )));
                }
            }
            m.get("type")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid("tokenizer type should be string"))?
        }
        _ => return Err(invalid("tokenizer name should be string or dict")),
    };
    match name {
        "standard" => Ok(Tokenizer::Standard),
        "whitespace" => Ok(Tokenizer::Whitespace),
        "jieba" => Ok(Tokenizer::Jieba),
        other => Err(invalid(format!(
            "unsupported tokenizer {other:?} (quarry serves standard, whitespace and jieba)"
        ))),
    }
}
