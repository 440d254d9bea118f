//! `docs/limits.md` holds a table generated from `src/limits.rs` (name, value, meaning): every
//! bound Quarry puts on a request, for users. This test regenerates the table and fails when the
//! committed page has drifted; `QUARRY_BLESS=1 cargo test -p quarry-types --test limits_doc`
//! (or `make generate`) rewrites it.

use std::path::Path;

const BEGIN: &str = "<!-- limits:begin (generated from dataplane/types/src/limits.rs) -->";
const END: &str = "<!-- limits:end -->";

/// Evaluates the constant expressions limits.rs uses: `N`, `N << M`, with `_` separators.
fn value(expr: &str) -> Option<u64> {
    let num = |s: &str| s.trim().replace('_', "").parse::<u64>().ok();
    match expr.split_once("<<") {
        Some((a, b)) => Some(num(a)? << num(b)?),
        None => num(expr),
    }
}

/// 65536 → 65,536
fn grouped(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One row per `pub const`; its doc comment (up to the first blank-line paragraph) is the
/// meaning. Consts declared together after one comment share it.
fn table(source: &str) -> String {
    let mut rows = vec![
        "| limit | value | what it bounds |".to_string(),
        "|---|---|---|".to_string(),
    ];
    let mut doc: Vec<String> = Vec::new();
    let mut after_const = false;
    for line in source.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            if after_const {
                doc.clear();
                after_const = false;
            }
            doc.push(text.trim().to_string());
        } else if let Some(decl) = line.strip_prefix("pub const ") {
            let (name, rest) = decl.split_once(':').expect("a typed const");
            let expr = rest
                .split_once('=')
                .expect("a value")
                .1
                .trim()
                .trim_end_matches(';');
            let shown = value(expr)
                .map(grouped)
                .unwrap_or_else(|| panic!("cannot evaluate {expr} of {name}"));
            rows.push(format!(
                "| `{}` | {shown} | {} |",
                name.trim(),
                doc.join(" ")
            ));
            after_const = true;
        } else if line.is_empty() {
            doc.clear();
        }
    }
    rows.join("\n")
}

#[test]
fn docs_list_every_limit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(root.join("src/limits.rs")).unwrap();
    let page_path = root.join("../../docs/limits.md");
    let page = std::fs::read_to_string(&page_path).unwrap();
    let (head, rest) = page
        .split_once(BEGIN)
        .expect("docs/limits.md has the begin marker");
    let (_, tail) = rest
        .split_once(END)
        .expect("docs/limits.md has the end marker");
    let fresh = format!("{head}{BEGIN}\n{}\n{END}{tail}", table(&source));
    if fresh != page {
        if std::env::var_os("QUARRY_BLESS").is_some() {
            std::fs::write(&page_path, fresh).unwrap();
        } else {
            panic!("docs/limits.md drifted from src/limits.rs; run `make generate`");
        }
    }
}

#[test]
fn values_render() {
    assert_eq!(value("1 << 20"), Some(1 << 20));
    assert_eq!(value("65_536"), Some(65536));
    assert_eq!(grouped(16384), "16,384");
    assert_eq!(grouped(999), "999");
}
