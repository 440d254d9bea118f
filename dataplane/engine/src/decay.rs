//! The decay reranker of Milvus 2.6 (`Function(function_type=RERANK, params={"reranker":
//! "decay", ...})`): each hit's relevance is multiplied by a factor in (0, 1] that falls as a
//! numeric field's value moves away from `origin` — by `decay` at `offset + scale` away.
//! With `adj = max(0, |x − origin| − offset)`:
//!
//! - gauss: `exp(ln(decay) · adj² / scale²)`
//! - exp: `exp(ln(decay) · adj / scale)`
//! - linear: `max(decay, 1 − (1 − decay) · adj / scale)` (never below `decay`, as Milvus)
//!
//! The relevance is normalised first, "higher is better": with `norm_score` every metric maps
//! into [0, 1] (`rerank::normalize`); without, IP, COSINE and BM25 scores stay as they are and
//! distances map with `1 − 2·atan(d)/π`. Hits of one key in several ann searches (a hybrid
//! search) are merged by `score_mode` (max, avg or sum) before the factor applies.

use quarry_index::Metric;

use crate::rerank::normalize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecayShape {
    Gauss,
    Exp,
    Linear,
}

/// How the scores of one key in several ann searches merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoreMode {
    #[default]
    Max,
    Avg,
    Sum,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decay {
    /// the numeric field whose value decays the score
    pub field: String,
    pub shape: DecayShape,
    pub origin: f64,
    /// > 0
    pub scale: f64,
    /// >= 0
    pub offset: f64,
    /// in (0, 1)
    pub decay: f64,
    pub norm_score: bool,
    pub score_mode: ScoreMode,
}

impl Decay {
    /// The factor a hit whose field holds `x` is multiplied by.
    /// (Never NaN: a factor that does not come out finite, at extreme scales, is 0.)
    pub fn factor(&self, x: f64) -> f64 {
        let adj = ((x - self.origin).abs() - self.offset).max(0.0);
        // the distance in scales first: no 0/0 or inf/inf at tiny or huge scales
        let t = adj / self.scale;
        let ln = self.decay.ln();
        let f = match self.shape {
            DecayShape::Gauss => (ln * t * t).exp(),
            DecayShape::Exp => (ln * t).exp(),
            DecayShape::Linear => (1.0 - (1.0 - self.decay) * t).max(self.decay),
        };
        if f.is_finite() {
            f
        } else {
            0.0
        }
    }

    /// A hit's relevance before the factor, higher is better.
    pub fn relevance(&self, metric: Metric, score: f32) -> f32 {
        if self.norm_score || !metric.higher_is_better() {
            normalize(metric, score)
        } else {
            score
        }
    }

    /// The merged relevance of one key's scores (one per ann search that found it).
    pub fn merge(&self, scores: &[f32]) -> f32 {
        match self.score_mode {
            ScoreMode::Max => scores.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            ScoreMode::Sum => scores.iter().sum(),
            ScoreMode::Avg => scores.iter().sum::<f32>() / scores.len().max(1) as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decay(shape: DecayShape) -> Decay {
        Decay {
            field: "ts".into(),
            shape,
            origin: 0.0,
            scale: 100.0,
            offset: 200.0,
            decay: 0.9,
            norm_score: false,
            score_mode: ScoreMode::Max,
        }
    }

    #[test]
    fn factors_follow_the_three_shapes() {
        for shape in [DecayShape::Gauss, DecayShape::Exp, DecayShape::Linear] {
            let d = decay(shape);
            // within the offset: no decay, on both sides of the origin
            assert_eq!(d.factor(150.0), 1.0);
            assert_eq!(d.factor(-200.0), 1.0);
            // one scale past the offset: exactly `decay`
            assert!((d.factor(300.0) - 0.9).abs() < 1e-12, "{shape:?}");
            assert!((d.factor(-300.0) - 0.9).abs() < 1e-12, "{shape:?}");
        }
        // two scales past: gauss 0.9^4, exp 0.9^2, linear 0.8 floored at 0.9
        assert!((decay(DecayShape::Gauss).factor(400.0) - 0.9f64.powi(4)).abs() < 1e-12);
        assert!((decay(DecayShape::Exp).factor(400.0) - 0.81).abs() < 1e-12);
        assert_eq!(decay(DecayShape::Linear).factor(400.0), 0.9);
        let mut lin = decay(DecayShape::Linear);
        lin.decay = 0.5;
        assert!((lin.factor(250.0) - 0.75).abs() < 1e-12);
        assert_eq!(lin.factor(350.0), 0.5);
    }

    #[test]
    fn relevance_is_higher_better_and_merges_by_mode() {
        let mut d = decay(DecayShape::Gauss);
        assert_eq!(d.relevance(Metric::Ip, 3.0), 3.0);
        assert_eq!(d.relevance(Metric::L2, 0.0), 1.0);
        assert!(d.relevance(Metric::L2, 1.0) < 1.0);
        d.norm_score = true;
        assert_eq!(d.relevance(Metric::Cosine, 1.0), 1.0);
        assert_eq!(d.merge(&[0.2, 0.6]), 0.6);
        d.score_mode = ScoreMode::Sum;
        assert!((d.merge(&[0.2, 0.6]) - 0.8).abs() < 1e-6);
        d.score_mode = ScoreMode::Avg;
        assert!((d.merge(&[0.2, 0.6]) - 0.4).abs() < 1e-6);
    }
}
