//! The canary gate's statistics: rates compared per call between the
//! stable and the canary version (the call is the unit of analysis).

mod bootstrap;
mod guard;
mod holm;
mod proportions;
mod sequential;
mod split;

pub use bootstrap::{
    ArmData, BootstrapConfig, BootstrapError, DEFAULT_MIN_CALLS, DEFAULT_RESAMPLES, DEFAULT_TAIL_TURNS,
    QuantileComparison, QuantileRatio, compare_quantiles, quantile, turns_needed,
};
pub use guard::{
    DEFAULT_GUARD_ALPHA, DEFAULT_PRIOR_EVENTS, Guard, GuardConfig, GuardError, GuardReading, guard_e_value,
};
pub use holm::weighted_holm;
pub use proportions::{Count, calls_needed, harm_p_value, newcombe_difference, wilson};
pub use sequential::{
    Look, SequentialBoundary, SequentialError, crossing_probabilities, obrien_fleming_boundaries,
    obrien_fleming_spending,
};
pub use split::split_mismatch_p_value;
