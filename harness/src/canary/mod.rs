//! The canary gate's statistics: rates compared per call between the
//! stable and the canary version (the call is the unit of analysis), the
//! boundaries that let the harm test look every minute, the always-valid
//! guard checked on every call, latency quantiles with a call-level
//! bootstrap, and the plan (power, bake length, split) made before the bake.

mod bootstrap;
mod guard;
mod holm;
mod permutation;
mod power;
mod proportions;
mod sequential;
mod split;
mod tail;

pub use bootstrap::{
    ArmData, BootstrapConfig, BootstrapError, DEFAULT_MIN_CALLS, DEFAULT_RESAMPLES, DEFAULT_TAIL_TURNS,
    QuantileComparison, QuantileRatio, compare_quantiles, quantile, turns_needed,
};
pub use guard::{
    DEFAULT_GUARD_ALPHA, DEFAULT_RATE_RATIOS, Guard, GuardConfig, GuardError, GuardReading, guard_e_value,
};
pub use holm::weighted_holm;
pub use permutation::{PermutationTest, quantile_harm_test};
pub use power::{
    PowerError, SequentialCost, Traffic, bake_minutes_needed, bake_power, canary_share_needed, detectable_effect,
    equally_spaced_fractions, power, sequential_cost,
};
pub use proportions::{Count, calls_needed, harm_p_value, harm_p_value_exact, newcombe_difference, wilson};
pub use sequential::{
    Look, SequentialBoundary, SequentialError, crossing_probabilities, obrien_fleming_boundaries,
    obrien_fleming_spending,
};
pub use split::split_mismatch_p_value;
