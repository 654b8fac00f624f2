//! Weighted Holm across guarded metrics: the rollback alpha is split by
//! weight (error rate more than latency, say), and each metric gets an
//! adjusted p-value comparable with the whole alpha.

/// Holm's step-down with weights (Holm 1979): order the metrics by
/// `p / w`; the metric at each step is tested at `alpha * w / (sum of the
/// weights still untested)`. Returns each metric's adjusted p-value (reject
/// when it is at most `alpha`), in the input order. Weights need not sum
/// to one; with equal weights this is Holm's plain procedure.
pub fn weighted_holm(p_values: &[f64], weights: &[f64]) -> Vec<f64> {
    assert_eq!(p_values.len(), weights.len(), "one weight a metric");
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| (p_values[a] / weights[a]).total_cmp(&(p_values[b] / weights[b])));
    let mut remaining: f64 = weights.iter().sum();
    let mut adjusted = vec![1.0; p_values.len()];
    let mut running = 0.0f64;
    for &i in &order {
        running = running.max((p_values[i] * remaining / weights[i]).min(1.0));
        adjusted[i] = running;
        remaining -= weights[i];
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn equal_weights_are_holm_as_statsmodels_computes_it() {
        // statsmodels 0.15.0: multipletests([0.01, 0.04, 0.03, 0.005], alpha=0.05,
        //   method='holm')[1] -> [0.03, 0.06, 0.06, 0.02]
        let adjusted = weighted_holm(&[0.01, 0.04, 0.03, 0.005], &[1.0; 4]);
        assert!(close(&adjusted, &[0.03, 0.06, 0.06, 0.02]), "{adjusted:?}");
    }

    #[test]
    fn weights_move_alpha_to_the_metrics_that_matter_most() {
        // Closed form. Weights 0.4, 0.2, 0.2, 0.2 (error rate first). By p/w
        // the order is 0 (0.025), 3 (0.05), 2 (0.1), 1 (0.2); adjusted:
        // 0.01*1/0.4 = 0.025; 0.01*0.6/0.2 = 0.03; 0.02*0.4/0.2 = 0.04;
        // 0.04*0.2/0.2 = 0.04.
        let adjusted = weighted_holm(&[0.01, 0.04, 0.02, 0.01], &[0.4, 0.2, 0.2, 0.2]);
        assert!(close(&adjusted, &[0.025, 0.04, 0.04, 0.03]), "{adjusted:?}");
        // Unweighted (statsmodels 0.15.0: multipletests([0.01, 0.04, 0.02, 0.01],
        // method='holm')[1] -> [0.04, 0.04, 0.04, 0.04]) the first would be 0.04.
        assert!(close(&weighted_holm(&[0.01, 0.04, 0.02, 0.01], &[1.0; 4]), &[0.04, 0.04, 0.04, 0.04]));
    }
}
