//! Every log record the `record` fuzz target found a crash with (fuzz/regressions/record/,
//! first byte 0: a record) is refused with an error, not a panic or an abort.

use quarry_types::record::LogRecord;

#[test]
fn saved_fuzz_records_are_refused() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/regressions/record");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/regressions/record exists") {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        // the target's first byte picks the decoder; bit 0 clear = a log record
        let Some((&mode, record)) = data.split_first() else {
            continue;
        };
        if mode & 1 != 0 {
            continue;
        }
        assert!(
            LogRecord::decode(record).is_err(),
            "{} was accepted",
            path.display()
        );
        seen += 1;
    }
    assert!(seen > 0, "no saved records in {dir}");
}
