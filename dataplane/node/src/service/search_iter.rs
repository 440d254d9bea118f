//! Search iterator v2 (pymilvus 2.5+): each page is a search for the `batch` best hits no
//! better than the last page's last score (`search_iter_last_bound`), as a range search with
//! that bound as `range_filter`, so the index walks past the rows already given. Rows at
//! exactly the bound may have come on the page before: a cursor per iterator (its token) keeps
//! the keys given at the bound, and the next page leaves them out. A page whose cursor is gone
//! (evicted, or another proxy) leaves every row at the bound out instead: rows tied at a page
//! boundary can then be missed, none is given twice.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use quarry_engine::{SearchHits, SearchInput};
use quarry_types::limits::MAX_TOPK;
use quarry_types::Pk;

use crate::convert::IterV2;

/// Iterators remembered at once; the least recently used goes first.
const MAX_CURSORS: usize = 10_000;
/// A cursor unused this long is dropped.
const IDLE: Duration = Duration::from_secs(600);
/// Keys remembered at one bound (more rows tied at one score than this may repeat).
const MAX_TIES: usize = 4_096;

#[derive(Debug)]
struct Cursor {
    bound: f32,
    /// keys given so far whose score is `bound`
    ties: Vec<Pk>,
    used: Instant,
}

/// The cursors of the search iterators this server pages.
#[derive(Debug, Default)]
pub struct Cursors {
    map: Mutex<HashMap<String, Cursor>>,
    issued: AtomicU64,
}

/// One page being served: what the search asked for and what the cursor knew.
#[derive(Debug)]
pub(super) struct Page {
    token: String,
    bound: Option<f32>,
    /// `None`: the cursor is unknown (every row at the bound is left out)
    ties: Option<Vec<Pk>>,
    batch: usize,
}

impl Cursors {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cursor>> {
        // entries are replaced whole: a poisoned map still holds consistent ones
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new iterator's token: unique within this process, unlikely to repeat across proxies.
    fn token(&self) -> String {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let salt = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        format!("{salt:016x}{n:08x}")
    }

    /// Starts a page: the search `input` asks for the page's rows and the tied ones to drop.
    pub(super) fn begin(&self, iter: IterV2, input: &mut SearchInput) -> Page {
        let token = iter
            .token
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| self.token());
        let ties = iter.last_bound.and_then(|bound| {
            let map = self.lock();
            map.get(&token)
                .filter(|c| c.bound.to_bits() == bound.to_bits())
                .map(|c| c.ties.clone())
        });
        if let Some(bound) = iter.last_bound {
            input.range_filter = Some(bound);
            let extra = ties.as_ref().map_or(0, Vec::len);
            input.topk = input.topk.saturating_add(extra).min(MAX_TOPK);
        }
        // an iterator's pages may outnumber its `ef` (Milvus's iterators take any batch size);
        // a search walks with at least `topk` anyway
        input.ef = input.ef.map(|ef| ef.max(input.topk));
        Page {
            token,
            bound: iter.last_bound,
            ties,
            batch: iter.batch,
        }
    }

    /// Ends a page: leaves out of `hits` the rows given before, keeps the first `batch`,
    /// remembers the keys at the new bound; the token and the bound for the answer.
    pub(super) fn finish(&self, page: Page, hits: &mut SearchHits) -> (String, f32) {
        let keep = kept(&hits.per_query, &page);
        retain_rows(hits, &keep);
        let given: &[(Pk, f32)] = hits.per_query.first().map_or(&[], Vec::as_slice);
        let bound = given.last().map(|(_, s)| *s).or(page.bound).unwrap_or(0.0);
        let mut ties: Vec<Pk> = match (&page.ties, page.bound) {
            (Some(before), Some(b)) if b.to_bits() == bound.to_bits() => before.clone(),
            _ => Vec::new(),
        };
        ties.extend(
            given
                .iter()
                .filter(|(_, s)| s.to_bits() == bound.to_bits())
                .map(|(pk, _)| pk.clone()),
        );
        ties.truncate(MAX_TIES);
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, c| now.duration_since(c.used) < IDLE);
        if map.len() >= MAX_CURSORS && !map.contains_key(&page.token) {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, c)| c.used)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(
            page.token.clone(),
            Cursor {
                bound,
                ties,
                used: now,
            },
        );
        (page.token, bound)
    }
}

/// Which of the flattened hits (one query vector) the page keeps.
fn kept(per_query: &[Vec<(Pk, f32)>], page: &Page) -> Vec<bool> {
    let mut left = page.batch;
    per_query
        .iter()
        .flatten()
        .map(|(pk, score)| {
            let at_bound = page.bound.is_some_and(|b| b.to_bits() == score.to_bits());
            let given = at_bound && page.ties.as_ref().is_none_or(|ties| ties.contains(pk));
            let keep = !given && left > 0;
            if keep {
                left -= 1;
            }
            keep
        })
        .collect()
}

/// Keeps the flattened hits marked in `keep`, with their output values.
fn retain_rows(hits: &mut SearchHits, keep: &[bool]) {
    let mut i = 0;
    for q in &mut hits.per_query {
        q.retain(|_| {
            i += 1;
            keep[i - 1]
        });
    }
    let pick = |values: &mut Vec<quarry_types::Value>| {
        let mut i = 0;
        values.retain(|_| {
            i += 1;
            keep.get(i - 1).copied().unwrap_or(false)
        });
    };
    for c in &mut hits.outputs.columns {
        pick(&mut c.values);
    }
    if let Some(g) = &mut hits.group_values {
        pick(&mut g.values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(scores: &[(i64, f32)]) -> SearchHits {
        SearchHits {
            per_query: vec![scores.iter().map(|(k, s)| (Pk::Int(*k), *s)).collect()],
            outputs: Default::default(),
            pk_field: "id".into(),
            pk_type: quarry_types::DataType::Int64,
            metric: quarry_engine::Metric::L2,
            group_values: None,
        }
    }

    fn ids(h: &SearchHits) -> Vec<i64> {
        h.per_query[0]
            .iter()
            .map(|(pk, _)| match pk {
                Pk::Int(i) => *i,
                Pk::Str(_) => unreachable!(),
            })
            .collect()
    }

    fn iter(token: Option<&str>, bound: Option<f32>, batch: usize) -> IterV2 {
        IterV2 {
            token: token.map(str::to_string),
            last_bound: bound,
            batch,
        }
    }

    #[test]
    fn rows_tied_at_a_page_boundary_come_once() {
        let cursors = Cursors::default();
        let mut input = SearchInput {
            topk: 2,
            ..Default::default()
        };
        // page 1: rows 1, 2 (2 at 0.5; 3 also at 0.5 comes next)
        let page = cursors.begin(iter(None, None, 2), &mut input);
        assert_eq!(input.range_filter, None);
        let mut h = hits(&[(1, 0.1), (2, 0.5)]);
        let (token, bound) = cursors.finish(page, &mut h);
        assert_eq!((ids(&h), bound), (vec![1, 2], 0.5));
        // page 2: from 0.5 on, row 2 left out, two more asked for to make room
        let mut input = SearchInput {
            topk: 2,
            ..Default::default()
        };
        let page = cursors.begin(iter(Some(&token), Some(0.5), 2), &mut input);
        assert_eq!((input.range_filter, input.topk), (Some(0.5), 3));
        let mut h = hits(&[(2, 0.5), (3, 0.5), (4, 0.5)]);
        let (same, bound) = cursors.finish(page, &mut h);
        assert_eq!(
            (ids(&h), bound, same.as_str()),
            (vec![3, 4], 0.5, token.as_str())
        );
        // page 3: still at 0.5: 2, 3 and 4 are all known
        let mut input = SearchInput {
            topk: 2,
            ..Default::default()
        };
        input.ef = Some(4);
        let page = cursors.begin(iter(Some(&token), Some(0.5), 2), &mut input);
        assert_eq!((input.topk, input.ef), (5, Some(5)));
        let mut h = hits(&[(2, 0.5), (3, 0.5), (4, 0.5), (5, 0.7), (6, 0.8)]);
        let (_, bound) = cursors.finish(page, &mut h);
        assert_eq!((ids(&h), bound), (vec![5, 6], 0.8));
    }

    #[test]
    fn an_unknown_cursor_leaves_the_bound_out() {
        let cursors = Cursors::default();
        let mut input = SearchInput::default();
        let page = cursors.begin(iter(Some("elsewhere"), Some(0.5), 2), &mut input);
        let mut h = hits(&[(2, 0.5), (3, 0.6), (4, 0.7), (5, 0.9)]);
        let (token, bound) = cursors.finish(page, &mut h);
        assert_eq!(
            (ids(&h), bound, token.as_str()),
            (vec![3, 4], 0.7, "elsewhere")
        );
    }

    #[test]
    fn output_values_follow_the_kept_rows() {
        let cursors = Cursors::default();
        let mut input = SearchInput::default();
        let page = cursors.begin(iter(Some("t"), Some(0.5), 1), &mut input);
        let mut h = hits(&[(2, 0.5), (3, 0.6), (4, 0.7)]);
        h.outputs.columns.push(quarry_engine::OutputColumn {
            field: quarry_types::FieldSchema::new("tag", quarry_types::DataType::Int64),
            values: vec![
                quarry_types::Value::Int(20),
                quarry_types::Value::Int(30),
                quarry_types::Value::Int(40),
            ],
        });
        cursors.finish(page, &mut h);
        assert_eq!(ids(&h), vec![3]);
        assert_eq!(
            h.outputs.columns[0].values,
            vec![quarry_types::Value::Int(30)]
        );
    }
}
