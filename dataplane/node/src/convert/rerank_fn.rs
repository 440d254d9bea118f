//! Ranker functions (pymilvus 2.6 `ranker=Function(function_type=RERANK, params={"reranker":
//! ...})`, `FunctionScore`) on search and hybrid search: `decay`, `rrf` and `weighted`, with
//! Milvus 2.6's parameters and error texts. `model` rerankers (an external inference service)
//! and `boost` functions are refused, as are `FunctionScore.params` (they only steer boost).
//! Parameter values arrive as text (`str(v)`, JSON for lists).

use quarry_engine::{Decay, DecayShape, Ranker, ScoreMode};
use quarry_proto::common::KeyValuePair;
use quarry_proto::schema::{FunctionSchema, FunctionScore, FunctionType};
use quarry_types::limits::MAX_PROPERTIES;

use super::params::{go_bool, shown};
use super::ConvResult;

/// RRF's `k` must lie in (0, this) (Milvus).
const MAX_RRF_K: f64 = 16384.0;

/// The ranker a request's `function_score` names; `None` when it names none.
pub fn function_ranker(fs: Option<&FunctionScore>) -> ConvResult<Option<Ranker>> {
    let Some(fs) = fs else { return Ok(None) };
    if let Some(p) = fs.params.first() {
        return Err(format!(
            "function_score param {} steers boost functions, which Quarry does not serve",
            shown(&p.key)
        ));
    }
    let f = match fs.functions.as_slice() {
        [] => return Ok(None),
        [f] => f,
        _ => return Err("currently only supports one rerank".into()),
    };
    if f.r#type != FunctionType::Rerank as i32 {
        return Err(format!("{} is not rerank function", shown(&f.name)));
    }
    if !f.output_field_names.is_empty() {
        return Err(format!(
            "rerank function should not have output field, but now is {}",
            f.output_field_names.len()
        ));
    }
    if f.params.len() > MAX_PROPERTIES {
        return Err(format!(
            "a rerank function takes at most {MAX_PROPERTIES} params"
        ));
    }
    let name = get(&f.params, "reranker")
        .map(|s| s.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match name.as_str() {
        "decay" => decay(f).map(Some),
        "rrf" => {
            no_inputs(f, "rrf")?;
            let k = match get(&f.params, "k") {
                None => 60.0,
                Some(raw) => {
                    number(raw).ok_or_else(|| format!("param k:{} is not a number", shown(raw)))?
                }
            };
            if !(k > 0.0 && k < MAX_RRF_K) {
                return Err(format!(
                    "the rank params k should be in range (0, {})",
                    MAX_RRF_K as i64
                ));
            }
            Ok(Some(Ranker::Rrf { k: k as f32 }))
        }
        "weighted" => {
            no_inputs(f, "weighted")?;
            let raw = get(&f.params, "weights").ok_or("weights not found")?;
            let bad = || {
                format!(
                    "parse weights param failed, weight should be []float, bug got: {}",
                    shown(raw)
                )
            };
            let weights: Vec<f64> = serde_json::from_str(raw).map_err(|_| bad())?;
            if weights.iter().any(|w| !(0.0..=1.0).contains(w)) {
                return Err("rank param weight should be in range [0, 1]".into());
            }
            Ok(Some(Ranker::Weighted {
                weights: weights.into_iter().map(|w| w as f32).collect(),
                norm: boolean(&f.params, "norm_score")?,
            }))
        }
        "model" => Err(
            "model rerankers call an external inference service, which Quarry does not serve"
                .into(),
        ),
        "boost" => Err("boost functions are not supported by Quarry yet".into()),
        other => Err(format!(
            "unsupported rerank function: [{}] , list of supported [decay,model,rrf,weighted]",
            shown(other)
        )),
    }
}

fn decay(f: &FunctionSchema) -> ConvResult<Ranker> {
    let field = match f.input_field_names.as_slice() {
        [one] if !one.is_empty() => one.clone(),
        [_] => return Err("rerank input field name cannot be empty string".into()),
        other => {
            return Err(format!(
                "decay function only supports single input, but gets [{}] input",
                shown(&other.join(","))
            ))
        }
    };
    let required = |key: &str| -> ConvResult<f64> {
        let raw = get(&f.params, key).ok_or_else(|| format!("decay function lost param: {key}"))?;
        number(raw).ok_or_else(|| format!("param {key}:{} is not a number", shown(raw)))
    };
    let optional = |key: &str, default: f64| -> ConvResult<f64> {
        match get(&f.params, key) {
            None => Ok(default),
            Some(raw) => {
                number(raw).ok_or_else(|| format!("param {key}:{} is not a number", shown(raw)))
            }
        }
    };
    let origin = required("origin")?;
    let scale = required("scale")?;
    if scale <= 0.0 {
        return Err(format!(
            "decay function param: scale must > 0, but got {scale:.6}"
        ));
    }
    let offset = optional("offset", 0.0)?;
    if offset < 0.0 {
        return Err(format!(
            "decay function param: offset must >= 0, but got {offset:.6}"
        ));
    }
    let decay = optional("decay", 0.5)?;
    if !(decay > 0.0 && decay < 1.0) {
        return Err(format!(
            "decay function param: decay must 0 < decay < 1, but got {decay:.6}"
        ));
    }
    let shape = match get(&f.params, "function").map(str::trim) {
        Some("gauss") => DecayShape::Gauss,
        Some("exp") => DecayShape::Exp,
        Some("linear") => DecayShape::Linear,
        _ => return Err("invalid decay function: decay, only support [gauss,linear,exp]".into()),
    };
    let score_mode = match get(&f.params, "score_mode").map(|s| s.trim().to_ascii_lowercase()) {
        None => ScoreMode::Max,
        Some(s) if s == "max" => ScoreMode::Max,
        Some(s) if s == "avg" => ScoreMode::Avg,
        Some(s) if s == "sum" => ScoreMode::Sum,
        Some(s) => {
            return Err(format!(
                "unsupported score mode: [{}], only supports: [max, avg, sum]",
                shown(&s)
            ))
        }
    };
    Ok(Ranker::Decay(Decay {
        field,
        shape,
        origin,
        scale,
        offset,
        decay,
        norm_score: boolean(&f.params, "norm_score")?,
        score_mode,
    }))
}

fn no_inputs(f: &FunctionSchema, name: &str) -> ConvResult<()> {
    if f.input_field_names.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the {name} function does not support input parameters, but got {}",
            shown(&f.input_field_names.join(","))
        ))
    }
}

/// A param by key (keys compare case-insensitively, as Milvus).
fn get<'a>(params: &'a [KeyValuePair], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.key.eq_ignore_ascii_case(key))
        .map(|p| p.value.as_str())
}

fn number(raw: &str) -> Option<f64> {
    raw.trim().parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A boolean param as Go's ParseBool reads it (pymilvus sends `True`); absent: false.
fn boolean(params: &[KeyValuePair], key: &str) -> ConvResult<bool> {
    match get(params, key) {
        None => Ok(false),
        Some(raw) => go_bool(raw).ok_or_else(|| {
            format!(
                "{key} params must be true/false, bug got {}",
                shown(raw.trim())
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn function(params: &[(&str, &str)], inputs: &[&str]) -> FunctionScore {
        FunctionScore {
            functions: vec![FunctionSchema {
                name: "f".into(),
                r#type: FunctionType::Rerank as i32,
                input_field_names: inputs.iter().map(|s| s.to_string()).collect(),
                params: params
                    .iter()
                    .map(|(k, v)| KeyValuePair {
                        key: k.to_string(),
                        value: v.to_string(),
                    })
                    .collect(),
                ..Default::default()
            }],
            params: vec![],
        }
    }

    fn err(params: &[(&str, &str)], inputs: &[&str]) -> String {
        function_ranker(Some(&function(params, inputs))).unwrap_err()
    }

    #[test]
    fn decay_functions_parse_with_defaults() {
        let fs = function(
            &[
                ("reranker", "decay"),
                ("function", "exp"),
                ("origin", "0"),
                ("offset", "200"),
                ("decay", "0.9"),
                ("scale", "100"),
            ],
            &["ts"],
        );
        let Some(Ranker::Decay(d)) = function_ranker(Some(&fs)).unwrap() else {
            panic!("not a decay");
        };
        assert_eq!((d.field.as_str(), d.shape), ("ts", DecayShape::Exp));
        assert_eq!(
            (d.origin, d.scale, d.offset, d.decay),
            (0.0, 100.0, 200.0, 0.9)
        );
        assert_eq!((d.norm_score, d.score_mode), (false, ScoreMode::Max));
        let base = [
            ("reranker", "decay"),
            ("function", "gauss"),
            ("origin", "5"),
            ("scale", "2"),
        ];
        let Some(Ranker::Decay(d)) = function_ranker(Some(&function(&base, &["x"]))).unwrap()
        else {
            panic!("not a decay");
        };
        assert_eq!((d.offset, d.decay), (0.0, 0.5));
    }

    #[test]
    fn milvus_refusals() {
        let d = |extra: &[(&str, &str)]| {
            let mut p = vec![
                ("reranker", "decay"),
                ("function", "gauss"),
                ("origin", "0"),
                ("scale", "1"),
            ];
            p.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
            p.extend_from_slice(extra);
            err(&p, &["x"])
        };
        assert!(d(&[("scale", "0")]).contains("scale must > 0"));
        assert!(d(&[("decay", "1")]).contains("decay must 0 < decay < 1"));
        assert!(d(&[("offset", "-1")]).contains("offset must >= 0"));
        assert!(d(&[("function", "Gauss")]).contains("only support [gauss,linear,exp]"));
        assert!(d(&[("origin", "now")]).contains("param origin:now is not a number"));
        assert!(d(&[("score_mode", "min")]).contains("unsupported score mode"));
        assert!(d(&[("norm_score", "maybe")]).contains("norm_score params must be true/false"));
        assert!(err(
            &[("reranker", "decay"), ("function", "exp"), ("scale", "1")],
            &["x"]
        )
        .contains("decay function lost param: origin"));
        assert!(err(&[("reranker", "decay")], &["a", "b"]).contains("only supports single input"));
        assert!(err(&[("reranker", "rrf")], &["a"]).contains("does not support input parameters"));
        assert!(err(&[("reranker", "rrf"), ("k", "0")], &[]).contains("(0, 16384)"));
        assert!(err(&[("reranker", "weighted")], &[]).contains("weights not found"));
        assert!(err(&[("reranker", "weighted"), ("weights", "[2]")], &[]).contains("[0, 1]"));
        assert!(err(&[("reranker", "cohere")], &[]).contains("unsupported rerank function"));
        assert!(err(&[("reranker", "model")], &["t"]).contains("external inference service"));
        let mut two = function(&[("reranker", "rrf")], &[]);
        two.functions.push(two.functions[0].clone());
        assert!(function_ranker(Some(&two))
            .unwrap_err()
            .contains("only supports one rerank"));
    }

    #[test]
    fn rrf_and_weighted_functions() {
        assert_eq!(
            function_ranker(Some(&function(&[("reranker", "RRF"), ("k", "10")], &[]))).unwrap(),
            Some(Ranker::Rrf { k: 10.0 })
        );
        assert_eq!(
            function_ranker(Some(&function(
                &[
                    ("reranker", "weighted"),
                    ("weights", "[0.2, 0.8]"),
                    ("norm_score", "True")
                ],
                &[]
            )))
            .unwrap(),
            Some(Ranker::Weighted {
                weights: vec![0.2, 0.8],
                norm: true
            })
        );
        assert_eq!(function_ranker(None).unwrap(), None);
    }
}
