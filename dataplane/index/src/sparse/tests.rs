use quarry_types::sparse::encode;

use super::*;

/// Deterministic sparse rows: `n` rows over `dims` dimensions, 1 to 12 values each.
fn rows(n: usize, dims: u32, seed: u64) -> Vec<Vec<u8>> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let nnz = 1 + (next() % 12) as usize;
            let mut p: Vec<(u32, f32)> = (0..nnz)
                .map(|_| {
                    (
                        (next() % dims as u64) as u32,
                        (next() % 1000) as f32 / 100.0 + 0.01,
                    )
                })
                .collect();
            p.sort_by_key(|e| e.0);
            p.dedup_by_key(|e| e.0);
            encode(&p)
        })
        .collect()
}

fn exact(data: &[Vec<u8>], q: &[(u32, f32)], k: usize, keep: &dyn Fn(u32) -> bool) -> Vec<Hit> {
    brute_force_sparse(data.len(), |i| &data[i][..], q, k, keep)
}

#[test]
fn inverted_index_equals_exact_search_without_drop() {
    let data = rows(2000, 300, 7);
    let refs: Vec<&[u8]> = data.iter().map(|r| &r[..]).collect();
    for (algo, eval) in [
        (SparseAlgo::Inverted, SparseEval::TermAtATime),
        (SparseAlgo::Wand, SparseEval::MaxScore),
        (SparseAlgo::Inverted, SparseEval::MaxScore),
    ] {
        let index = SparseIndex::build(&refs, algo, eval, 0.0);
        assert_eq!(index.len(), 2000);
        for (qi, q) in rows(20, 300, 99).iter().enumerate() {
            let q = prune_query(q, 0.0);
            let keep = |r: u32| qi % 2 == 0 || !r.is_multiple_of(3);
            let want = exact(&data, &q, 10, &keep);
            let got = index.search(&q, 10, &keep);
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(g.row, w.row);
                assert!((g.score - w.score).abs() < 1e-4, "{g:?} {w:?}");
            }
        }
    }
}

#[test]
fn rows_without_a_common_dimension_are_no_hits() {
    let data = [encode(&[(1, 1.0)]), encode(&[(2, 5.0)]), encode(&[])];
    let refs: Vec<&[u8]> = data.iter().map(|r| &r[..]).collect();
    let q = [(1, 2.0)];
    for eval in [SparseEval::TermAtATime, SparseEval::MaxScore] {
        let index = SparseIndex::build(&refs, SparseAlgo::Inverted, eval, 0.0);
        let hits = index.search(&q, 10, &|_| true);
        assert_eq!(hits, vec![Hit { row: 0, score: 2.0 }]);
        assert_eq!(exact(&data, &q, 10, &|_| true), hits);
        assert!(index.search(&[], 10, &|_| true).is_empty());
    }
}

#[test]
fn drop_ratio_build_leaves_the_smallest_values_out() {
    // values 1..=10 over ten rows of one dimension each, plus a second dimension
    let data: Vec<Vec<u8>> = (1..=10)
        .map(|v| encode(&[(0, v as f32), (1, 0.5)]))
        .collect();
    let refs: Vec<&[u8]> = data.iter().map(|r| &r[..]).collect();
    let full = SparseIndex::build(&refs, SparseAlgo::Inverted, SparseEval::TermAtATime, 0.0);
    assert_eq!(full.postings(), 20);
    // 20 values: the ten 0.5s and 1..=10; dropping half leaves the values >= 1.0 but the
    // smallest of those (the quantile itself stays)
    let pruned = SparseIndex::build(&refs, SparseAlgo::Inverted, SparseEval::MaxScore, 0.5);
    assert_eq!(pruned.postings(), 10);
    let q = [(1, 1.0)];
    assert_eq!(full.search(&q, 10, &|_| true).len(), 10);
    assert!(pruned.search(&q, 10, &|_| true).is_empty());
    let q = [(0, 1.0)];
    assert_eq!(pruned.search(&q, 3, &|_| true)[0].row, 9);
}

#[test]
fn drop_ratio_search_leaves_the_query_s_smallest_values_out() {
    let q = encode(&[(0, 0.1), (1, 5.0), (2, 0.2), (3, 3.0)]);
    assert_eq!(prune_query(&q, 0.0).len(), 4);
    assert_eq!(prune_query(&q, 0.5), vec![(1, 5.0), (3, 3.0)]);
    assert_eq!(prune_query(&q, 0.99), vec![(1, 5.0)]);
    // a row matching only the dropped dimensions is no longer found
    let data = [encode(&[(0, 9.0)]), encode(&[(1, 1.0)])];
    let full = exact(&data, &prune_query(&q, 0.0), 10, &|_| true);
    assert_eq!(full.iter().map(|h| h.row).collect::<Vec<_>>(), vec![1, 0]);
    let pruned = exact(&data, &prune_query(&q, 0.5), 10, &|_| true);
    assert_eq!(pruned.iter().map(|h| h.row).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn index_files_round_trip_and_damage_is_an_error() {
    let data = rows(300, 50, 3);
    let refs: Vec<&[u8]> = data.iter().map(|r| &r[..]).collect();
    let index = SparseIndex::build(&refs, SparseAlgo::Wand, SparseEval::MaxScore, 0.2);
    let bytes = index.to_bytes();
    assert_eq!(
        SparseIndex::from_bytes(&bytes, SparseAlgo::Wand, SparseEval::MaxScore).unwrap(),
        index
    );
    assert!(SparseIndex::from_bytes(&bytes, SparseAlgo::Inverted, SparseEval::MaxScore).is_err());
    for cut in [0, 3, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            SparseIndex::from_bytes(&bytes[..cut], SparseAlgo::Wand, SparseEval::MaxScore).is_err()
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(SparseIndex::from_bytes(&longer, SparseAlgo::Wand, SparseEval::MaxScore).is_err());
    let empty = SparseIndex::build(&[], SparseAlgo::Inverted, SparseEval::TermAtATime, 0.0);
    let back = SparseIndex::from_bytes(
        &empty.to_bytes(),
        SparseAlgo::Inverted,
        SparseEval::TermAtATime,
    )
    .unwrap();
    assert_eq!(back, empty);
    assert!(back.search(&[(1, 1.0)], 5, &|_| true).is_empty());
}

#[test]
fn maxscore_pruning_keeps_ties_like_the_exhaustive_evaluation() {
    // many rows with equal scores, and a few better ones late in the lists
    let mut data: Vec<Vec<u8>> = (0..500).map(|_| encode(&[(3, 1.0), (8, 0.5)])).collect();
    data.extend((0..5).map(|i| encode(&[(3, 2.0 + i as f32), (9, 0.1)])));
    let refs: Vec<&[u8]> = data.iter().map(|r| &r[..]).collect();
    let q = [(3, 1.0), (8, 1.0), (9, 0.5)];
    let taat = SparseIndex::build(&refs, SparseAlgo::Inverted, SparseEval::TermAtATime, 0.0);
    let daat = SparseIndex::build(&refs, SparseAlgo::Wand, SparseEval::MaxScore, 0.0);
    for k in [1, 3, 5, 6, 20, 600] {
        let want = exact(&data, &q, k, &|_| true);
        assert_eq!(taat.search(&q, k, &|_| true), want, "k={k}");
        assert_eq!(daat.search(&q, k, &|_| true), want, "k={k}");
        let keep = |r: u32| !r.is_multiple_of(7);
        assert_eq!(
            daat.search(&q, k, &keep),
            exact(&data, &q, k, &keep),
            "k={k}"
        );
    }
}
