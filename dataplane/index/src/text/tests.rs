use quarry_types::sparse::{check_row, pairs};

use super::bm25::*;
use super::Analyzer;
use crate::{SparseAlgo, SparseEval, SparseIndex};

fn tokens(params: &str, text: &str) -> Vec<String> {
    Analyzer::from_params(Some(params)).unwrap().tokens(text)
}

#[test]
fn standard_splits_on_what_is_not_a_letter_or_digit_and_lowercases() {
    assert_eq!(
        tokens("", "Hello, World! It's 2024-ready."),
        ["hello", "world", "it", "s", "2024", "ready"]
    );
    assert_eq!(tokens(r#"{"type": "standard"}"#, "Straße"), ["straße"]);
    assert_eq!(
        tokens(r#"{"type": "standard", "stop_words": ["the"]}"#, "The cat"),
        ["cat"]
    );
}

#[test]
fn english_drops_stop_words_and_stems() {
    assert_eq!(
        tokens(
            r#"{"type": "english"}"#,
            "The runners are running in the parks"
        ),
        ["runner", "run", "park"]
    );
}

#[test]
fn chinese_segments_words() {
    let t = tokens(r#"{"type": "chinese"}"#, "我们喜欢机器学习，向量数据库。");
    assert!(t.contains(&"机器".to_string()), "{t:?}");
    assert!(t.contains(&"数据库".to_string()), "{t:?}");
    assert!(!t.iter().any(|w| w == "，" || w == "。"), "{t:?}");
}

#[test]
fn custom_analyzers_chain_their_filters() {
    let p = r#"{"tokenizer": "whitespace", "filter": ["lowercase",
        {"type": "stop", "stop_words": ["_english_", "foo"]},
        {"type": "length", "max": 5}, {"type": "stemmer", "language": "english"}]}"#;
    assert_eq!(tokens(p, "Foo the Jumping dogs extraordinary"), ["dog"]);
    assert_eq!(
        tokens(
            r#"{"tokenizer": {"type": "standard"}, "filter": ["alphanumonly"]}"#,
            "abc déjà 12"
        ),
        ["abc", "12"]
    );
}

#[test]
fn refuses_what_it_does_not_serve() {
    for (p, want) in [
        ("[1]", "json map"),
        ("{", "json map"),
        (r#"{"type": "icu"}"#, "unsupported analyzer type"),
        (r#"{"type": "english", "x": 1}"#, "takes no parameter"),
        (
            r#"{"filter": ["lowercase"]}"#,
            "tokenizer name or type must be set",
        ),
        (r#"{"tokenizer": "lindera"}"#, "unsupported tokenizer"),
        (
            r#"{"tokenizer": "standard", "filter": ["asciifolding"]}"#,
            "unsupported filter",
        ),
        (
            r#"{"tokenizer": "standard", "filter": "lowercase"}"#,
            "should be array",
        ),
        (
            r#"{"tokenizer": "standard", "filter": [{"type": "stemmer", "language": "klingon"}]}"#,
            "unsupported stemmer",
        ),
        (
            r#"{"tokenizer": "standard", "filter": [{"type": "length"}]}"#,
            "length max",
        ),
    ] {
        let e = Analyzer::from_params(Some(p)).unwrap_err();
        assert!(e.contains(want), "{p}: {e}");
    }
    let huge = format!(
        r#"{{"type": "standard", "stop_words": [{}]}}"#,
        vec!["\"w\""; 20_000].join(",")
    );
    assert!(Analyzer::from_params(Some(&huge)).is_err());
}

#[test]
fn tokens_know_their_offsets_and_positions() {
    let a = Analyzer::from_params(Some(r#"{"type": "english"}"#)).unwrap();
    let t = a.analyze("The cats, running");
    let got: Vec<(&str, usize, usize, usize)> = t
        .iter()
        .map(|t| (t.text.as_str(), t.start, t.end, t.position))
        .collect();
    // "the" is dropped but keeps its position
    assert_eq!(got, [("cat", 4, 8, 1), ("run", 10, 17, 2)]);
    let c = Analyzer::from_params(Some(r#"{"type": "chinese"}"#)).unwrap();
    let text = "向量数据库";
    for t in c.analyze(text) {
        assert_eq!(&text[t.start..t.end], t.text);
    }
}

#[test]
fn token_dimensions_are_milvus_hashes() {
    // CRC32 (IEEE) of "hello", and of the first 100 bytes of a longer token
    assert_eq!(term_id("hello"), 0x3610_a686);
    let long = "x".repeat(150);
    assert_eq!(term_id(&long), term_id(&long[..100]));
}

#[test]
fn a_text_becomes_a_valid_row_of_token_counts() {
    let a = Analyzer::standard();
    let row = counts_row(&a, "b a b c b");
    check_row(&row).unwrap();
    let mut counts: Vec<f32> = pairs(&row).map(|p| p.1).collect();
    counts.sort_by(f32::total_cmp);
    assert_eq!(counts, [1.0, 1.0, 3.0]);
    assert!(counts_row(&a, " ,; ").is_empty());
}

/// BM25 over a small corpus, by the formula written out, against the scan and the index.
#[test]
fn scores_follow_the_formula_and_index_and_scan_agree() {
    let a = Analyzer::standard();
    let docs = [
        "the quick brown fox",
        "the lazy dog",
        "quick quick dog",
        "nothing in common here at all really",
        "",
    ];
    let rows: Vec<Vec<u8>> = docs.iter().map(|d| counts_row(&a, d)).collect();
    let query = counts_row(&a, "quick dog");
    let mut stats = Bm25Stats::for_queries([query.as_slice()]);
    for r in &rows {
        stats.add_row(r);
    }
    assert_eq!(stats.docs, 5);
    let knobs = Bm25::default();
    let q = Bm25Query::new(&query, &stats, knobs);
    // by hand: avgdl = (4 + 3 + 3 + 7 + 0) / 5; idf(quick) = idf(dog) with df 2 of 5
    let avgdl = 17.0f32 / 5.0;
    let idf = (1.0f32 + (5.0 - 2.0 + 0.5) / (2.0 + 0.5)).ln();
    let part = |tf: f32, len: f32| tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len / avgdl));
    let want2 = idf * part(2.0, 3.0) + idf * part(1.0, 3.0);
    assert!((q.score(&rows[2]) - want2).abs() < 1e-5);
    let hits = brute_force_bm25(rows.len(), |i| &rows[i], &q, 10, &|_| true);
    let order: Vec<u32> = hits.iter().map(|h| h.row).collect();
    assert_eq!(order, [2, 1, 0]);
    let slices: Vec<&[u8]> = rows.iter().map(|r| r.as_slice()).collect();
    let index = SparseIndex::build(&slices, SparseAlgo::Inverted, SparseEval::TermAtATime, 0.0);
    let mut from_index = Bm25Stats::for_queries([query.as_slice()]);
    index.bm25_stats(&mut from_index);
    assert_eq!(from_index.docs, stats.docs);
    assert_eq!(from_index.df, stats.df);
    assert!((from_index.tokens - stats.tokens).abs() < 1e-9);
    let by_index = index.search_bm25(&q, 10, &|_| true);
    assert_eq!(by_index.len(), hits.len());
    for (x, y) in by_index.iter().zip(&hits) {
        assert_eq!(x.row, y.row);
        assert!((x.score - y.score).abs() < 1e-5);
    }
    // the index read back from its file scores the same
    let back = SparseIndex::from_bytes(
        &index.to_bytes(),
        SparseAlgo::Inverted,
        SparseEval::TermAtATime,
    )
    .unwrap();
    assert_eq!(
        back.search_bm25(&q, 2, &|r| r != 2),
        index.search_bm25(&q, 2, &|r| r != 2)
    );
}
