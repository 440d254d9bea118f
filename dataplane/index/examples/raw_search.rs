//! The index alone, in process: builds an HNSW graph (COSINE) over row-major `f32` vectors and
//! searches the queries in batches of 100 with every thread of a pool sized to the machine, as
//! the server's read pool searches one nq=100 request, with no server around it. `make bench`
//! runs it beside the servers (the bar: a server search at >= 85 % of this).
//!
//! `raw_search <base.f32> <queries.f32> <dim> <M> <efConstruction> <ef> <k>`: prints one JSON
//! line with the build time, nq=100 queries per second (median of 5 passes) and the hits, for
//! the caller's recall.

use std::time::Instant;

use quarry_index::{HnswIndex, Metric, SearchParams};
use rayon::prelude::*;

fn floats(path: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn arg(args: &[String], i: usize) -> usize {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("argument {i} should be a count"))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (base, queries) = (floats(&args[1]), floats(&args[2]));
    let (dim, m, ef_construction, ef, k) = (
        arg(&args, 3),
        arg(&args, 4),
        arg(&args, 5),
        arg(&args, 6),
        arg(&args, 7),
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a pool");
    let t = Instant::now();
    let index = pool
        .install(|| HnswIndex::build(&base, dim, Metric::Cosine, m, ef_construction, None))
        .expect("the graph builds");
    let build_s = t.elapsed().as_secs_f64();
    let params = SearchParams {
        ef: Some(ef),
        ..Default::default()
    };
    let nq = queries.len() / dim;
    let pass = || {
        queries
            .chunks(100 * dim)
            .flat_map(|batch| {
                pool.install(|| {
                    batch
                        .par_chunks(dim)
                        .map(|q| index.search_all(q, k, &params).expect("a search"))
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
    };
    let mut times = Vec::new();
    let mut hits = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        hits = pass();
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let rows: Vec<Vec<u32>> = hits
        .iter()
        .map(|h| h.iter().map(|h| h.row).collect())
        .collect();
    println!(
        "{{\"build_s\": {build_s:.3}, \"nq100_qps\": {:.1}, \"threads\": {threads}, \"ids\": {}}}",
        nq as f64 / times[2],
        serde_json::to_string(&rows).expect("json")
    );
}
