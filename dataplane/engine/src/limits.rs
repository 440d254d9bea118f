//! The bounds of a read request (Milvus's limits, `quarry_types::limits`), checked before
//! anything is sized by them.

use crate::error::invalid;
use crate::Result;

pub use quarry_types::limits::MAX_TOPK;
use quarry_types::limits::{
    MAX_EF, MAX_GROUP_SIZE, MAX_HYBRID_REQUESTS, MAX_NQ, MAX_OUTPUT_FIELDS,
};

/// Checks a search's `topk` and `topk + offset` against [`MAX_TOPK`] (the sum without
/// overflow, whatever the two are); returns the sum.
pub fn check_search_window(topk: usize, offset: usize) -> Result<usize> {
    if topk == 0 || topk > MAX_TOPK {
        return Err(invalid(format!(
            "topk [{topk}] is invalid, it should be in range [1, {MAX_TOPK}], but got {topk}"
        )));
    }
    match topk.checked_add(offset).filter(|w| *w <= MAX_TOPK) {
        Some(want) => Ok(want),
        None => {
            let sum = topk as u128 + offset as u128;
            Err(invalid(format!(
                "offset+topk [{sum}] is invalid, it should be in range [1, {MAX_TOPK}], but got {sum}"
            )))
        }
    }
}

/// Checks a query's `limit` (when given) and `offset + limit` against [`MAX_TOPK`], the query
/// result window.
pub fn check_query_window(limit: Option<usize>, offset: usize) -> Result<()> {
    let window = |got: u128| {
        invalid(format!(
            "invalid max query result window, (offset+limit) should be in range [1, {MAX_TOPK}], \
             but got {got}"
        ))
    };
    match limit {
        Some(0) => Err(invalid(
            "invalid max query result window, limit [0] is invalid, should be greater than 0",
        )),
        Some(l) if l.checked_add(offset).is_none_or(|w| w > MAX_TOPK) => {
            Err(window(l as u128 + offset as u128))
        }
        None if offset > MAX_TOPK => Err(window(offset as u128)),
        _ => Ok(()),
    }
}

/// Checks the number of query vectors of a search against [`MAX_NQ`].
pub fn check_nq(nq: usize) -> Result<()> {
    if nq == 0 || nq > MAX_NQ {
        return Err(invalid(format!(
            "nq (number of search vector per search request) should be in range [1, {MAX_NQ}], \
             but got {nq}"
        )));
    }
    Ok(())
}

/// Checks an HNSW search's `ef`: at most [`MAX_EF`], and (except for range searches, which
/// do not stop at k hits) at least the number of hits asked for, as Milvus (knowhere) does.
pub fn check_ef(ef: usize, k: usize, ranged: bool) -> Result<()> {
    if ef > MAX_EF {
        return Err(invalid(format!(
            "ef({ef}) is out of range: it should be in range [{}, {MAX_EF}]",
            if ranged { 1 } else { k }
        )));
    }
    if !ranged && ef < k {
        return Err(invalid(format!("ef({ef}) should be larger than k({k})")));
    }
    Ok(())
}

/// Checks a search's `refine_k`: a finite multiple >= 1, for an index that re-scores its
/// candidates (HNSW, HNSW_SQ with `refine`).
pub fn check_refine_k(refine_k: f32, kind: &quarry_index::IndexKind) -> Result<()> {
    use quarry_index::IndexKind;
    if !refine_k.is_finite() || refine_k < 1.0 {
        return Err(invalid(format!(
            "refine_k [{refine_k}] is invalid, it should be a number >= 1"
        )));
    }
    match kind {
        IndexKind::Hnsw { .. } | IndexKind::HnswSq { refine: true, .. } => Ok(()),
        _ => Err(invalid(
            "refine_k applies to an index that refines its candidates (HNSW_SQ with refine \
             true, or HNSW)",
        )),
    }
}

/// Checks the number of output fields a search or query names (duplicates and `*` count).
/// `group_size` of a grouping search (Milvus's texts).
pub fn check_group_size(size: usize) -> Result<()> {
    if size == 0 {
        return Err(invalid(
            "input group size:0 is negative, failed to do search_groupby: invalid parameter",
        ));
    }
    if size > MAX_GROUP_SIZE {
        return Err(invalid(format!(
            "input group size:{size} exceeds configured max group size:{MAX_GROUP_SIZE}: \
             invalid parameter"
        )));
    }
    Ok(())
}

/// The number of ann search requests of a hybrid search (Milvus's texts).
pub fn check_hybrid_requests(n: usize) -> Result<()> {
    if n == 0 {
        return Err(invalid("minimum of ann search requests is 1"));
    }
    if n > MAX_HYBRID_REQUESTS {
        return Err(invalid(format!(
            "maximum of ann search requests is {MAX_HYBRID_REQUESTS}"
        )));
    }
    Ok(())
}

pub fn check_output_fields(fields: &[String]) -> Result<()> {
    if fields.len() > MAX_OUTPUT_FIELDS {
        return Err(invalid(format!(
            "the number of output fields ({}) exceeds the maximum of {MAX_OUTPUT_FIELDS}",
            fields.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod bounds_tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn windows_are_checked_without_overflow() {
        assert_eq!(check_search_window(10, 5).unwrap(), 15);
        assert_eq!(check_search_window(MAX_TOPK, 0).unwrap(), MAX_TOPK);
        assert!(msg(check_search_window(0, 0)).contains("topk [0] is invalid"));
        assert!(msg(check_search_window(1 << 63, 1)).contains("topk [9223372036854775808]"));
        assert!(msg(check_search_window(1, usize::MAX))
            .contains("offset+topk [18446744073709551616] is invalid"));
        assert!(msg(check_search_window(16000, 385)).contains("but got 16385"));
        check_query_window(None, 0).unwrap();
        check_query_window(Some(16000), 384).unwrap();
        assert!(msg(check_query_window(Some(16000), 385))
            .contains("(offset+limit) should be in range [1, 16384], but got 16385"));
        assert!(msg(check_query_window(Some(usize::MAX), usize::MAX)).contains("but got"));
        assert!(msg(check_query_window(Some(0), 0)).contains("limit [0] is invalid"));
        assert!(msg(check_query_window(None, MAX_TOPK + 1)).contains("(offset+limit)"));
    }

    #[test]
    fn nq_ef_and_output_fields() {
        check_nq(MAX_NQ).unwrap();
        assert!(msg(check_nq(MAX_NQ + 1)).contains("but got 16385"));
        assert!(msg(check_nq(0)).contains("should be in range [1, 16384]"));
        check_ef(64, 10, false).unwrap();
        assert!(msg(check_ef(1_000_000_000, 10, false)).contains("ef(1000000000) is out of range"));
        assert!(msg(check_ef(5, 10, false)).contains("ef(5) should be larger than k(10)"));
        check_ef(5, 100, true).unwrap();
        check_output_fields(&vec!["a".to_string(); MAX_OUTPUT_FIELDS]).unwrap();
        assert!(msg(check_output_fields(&vec!["a".to_string(); 300]))
            .contains("the number of output fields (300) exceeds the maximum of 256"));
    }
}
