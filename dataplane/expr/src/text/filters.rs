//! Token filters of the analyzers, with Milvus's names and parameter shapes, and the jieba
//! tokenizer's segmentation.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};

use rust_stemmers::{Algorithm, Stemmer};
use serde_json::Value as Json;

/// The most stop words one filter takes.
pub const MAX_STOP_WORDS: usize = 10_000;

/// The English stop words (`_english_`, and the `english` analyzer's list).
const ENGLISH: [&str; 33] = [
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with",
];

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Lowercase,
    /// tokens of ASCII letters and digits only
    AlphanumOnly,
    /// tokens of Chinese characters, letters and digits only
    CnAlphanumOnly,
    /// tokens of Chinese characters only
    CnCharOnly,
    /// tokens with at least one character that is not punctuation
    RemovePunct,
    Stop(Arc<HashSet<String>>),
    /// tokens of at most this many characters
    Length(usize),
    Stemmer(Algorithm),
}

/// The English stop word set.
pub fn english_stop_words() -> Arc<HashSet<String>> {
    static SET: OnceLock<Arc<HashSet<String>>> = OnceLock::new();
    SET.get_or_init(|| Arc::new(ENGLISH.iter().map(|w| w.to_string()).collect()))
        .clone()
}

/// A `stop_words` list (`_english_` expands to the English list).
pub fn stop_words(words: &Json) -> Result<Arc<HashSet<String>>, String> {
    let Json::Array(items) = words else {
        return Err("stop_words should be array".into());
    };
    if items.len() > MAX_STOP_WORDS {
        return Err(format!(
            "stop_words has {} words, more than the maximum of {MAX_STOP_WORDS}",
            items.len()
        ));
    }
    let mut set = HashSet::new();
    for w in items {
        let w = w.as_str().ok_or("stop words should be string")?;
        if w == "_english_" {
            set.extend(ENGLISH.iter().map(|w| w.to_string()));
        } else {
            set.insert(w.to_string());
        }
    }
    Ok(Arc::new(set))
}

fn is_cn(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

impl Filter {
    pub fn stemmer(language: &str) -> Result<Self, String> {
        let algo = match language.to_ascii_lowercase().as_str() {
            "arabic" => Algorithm::Arabic,
            "danish" => Algorithm::Danish,
            "dutch" => Algorithm::Dutch,
            "english" => Algorithm::English,
            "finnish" => Algorithm::Finnish,
            "french" => Algorithm::French,
            "german" => Algorithm::German,
            "greek" => Algorithm::Greek,
            "hungarian" => Algorithm::Hungarian,
            "italian" => Algorithm::Italian,
            "norwegian" => Algorithm::Norwegian,
            "portuguese" => Algorithm::Portuguese,
            "romanian" => Algorithm::Romanian,
            "russian" => Algorithm::Russian,
            "spanish" => Algorithm::Spanish,
            "swedish" => Algorithm::Swedish,
            "tamil" => Algorithm::Tamil,
            "turkish" => Algorithm::Turkish,
            other => return Err(format!("unsupported stemmer language: {other}")),
        };
        Ok(Filter::Stemmer(algo))
    }

    /// A filter as `analyzer_params` names it: a string, or an object with `type`.
    pub fn from_json(f: &Json) -> Result<Self, String> {
        let (kind, params) = match f {
            Json::String(s) => (s.as_str(), None),
            Json::Object(m) => (
                m.get("type")
                    .and_then(Json::as_str)
                    .ok_or("filter type should be string")?,
                Some(m),
            ),
            _ => return Err("filter params should be string or dict".into()),
        };
        let allowed: &[&str] = match kind {
            "stop" => &["type", "stop_words"],
            "length" => &["type", "max"],
            "stemmer" => &["type", "language"],
            _ => &["type"],
        };
        if let Some(key) = params.and_then(|m| m.keys().find(|k| !allowed.contains(&k.as_str()))) {
            return Err(format!(
                "the filter {kind} takes no parameter {key:?} in quarry"
            ));
        }
        let param = |key: &str| params.and_then(|m| m.get(key));
        match kind {
            "lowercase" => Ok(Filter::Lowercase),
            "alphanumonly" => Ok(Filter::AlphanumOnly),
            "cnalphanumonly" => Ok(Filter::CnAlphanumOnly),
            "cncharonly" => Ok(Filter::CnCharOnly),
            "removepunct" => Ok(Filter::RemovePunct),
            "stop" => Ok(Filter::Stop(stop_words(
                param("stop_words").ok_or("stop filter stop_words can't be empty")?,
            )?)),
            "length" => {
                let max = param("max")
                    .and_then(Json::as_u64)
                    .ok_or("length max param was none or not uint")?;
                Ok(Filter::Length(max.min(u32::MAX as u64) as usize))
            }
            "stemmer" => Filter::stemmer(
                param("language")
                    .and_then(Json::as_str)
                    .ok_or("stemmer language field should be string")?,
            ),
            other => Err(format!(
                "unsupported filter {other:?} (quarry serves lowercase, alphanumonly, \
                 cnalphanumonly, cncharonly, removepunct, stop, length and stemmer)"
            )),
        }
    }

    /// The token after this filter, or `None` when the filter drops it.
    pub fn apply(&self, t: String) -> Option<String> {
        match self {
            Filter::Lowercase => Some(t.to_lowercase()),
            Filter::AlphanumOnly => t.chars().all(|c| c.is_ascii_alphanumeric()).then_some(t),
            Filter::CnAlphanumOnly => t
                .chars()
                .all(|c| is_cn(c) || c.is_ascii_alphanumeric())
                .then_some(t),
            Filter::CnCharOnly => t.chars().all(is_cn).then_some(t),
            Filter::RemovePunct => t
                .chars()
                .any(|c| !c.is_ascii_punctuation() && !c.is_whitespace() && !is_cjk_punct(c))
                .then_some(t),
            Filter::Stop(words) => (!words.contains(&t)).then_some(t),
            Filter::Length(max) => (t.chars().count() <= *max).then_some(t),
            Filter::Stemmer(algo) => Some(Stemmer::create(*algo).stem(&t).into_owned()),
        }
    }
}

fn is_cjk_punct(c: char) -> bool {
    ('\u{3000}'..='\u{303f}').contains(&c) || ('\u{ff00}'..='\u{ff0f}').contains(&c)
}

/// The words of `text` by jieba's search mode (long words also as their shorter words) with
/// their byte offsets, the dictionary loaded once per process; whitespace is not a token.
pub fn jieba_cut(text: &str) -> Vec<(usize, &str)> {
    static JIEBA: OnceLock<jieba_rs::Jieba> = OnceLock::new();
    JIEBA
        .get_or_init(jieba_rs::Jieba::new)
        .cut_for_search(text, true)
        .into_iter()
        .filter(|t| !t.word.trim().is_empty())
        .map(|t| (t.byte_start, t.word))
        .collect()
}
