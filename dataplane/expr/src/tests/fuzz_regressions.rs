//! Every input the `expr` fuzz target found a crash with (fuzz/regressions/expr/) goes through
//! the whole pipeline without a panic, a hang or a stack overflow.

use std::collections::HashMap;

use crate::prepare;

#[test]
fn saved_fuzz_inputs_are_answered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/regressions/expr");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("fuzz/regressions/expr exists") {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let schema = super::schema();
        // run on a tokio worker's stack size, like the server does
        let answered = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || prepare(&text, &schema, &HashMap::new()).is_ok())
            .unwrap()
            .join();
        assert!(answered.is_ok(), "{} crashed the pipeline", path.display());
        seen += 1;
    }
    assert!(seen > 0, "no saved inputs in {dir}");
}
