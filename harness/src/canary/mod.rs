//! The canary gate's statistics: rates compared per call between the
//! stable and the canary version (the call is the unit of analysis).

mod holm;
mod proportions;
mod sequential;
mod split;

pub use holm::weighted_holm;
pub use proportions::{Count, calls_needed, harm_p_value, newcombe_difference, wilson};
pub use sequential::{
    Look, SequentialBoundary, SequentialError, crossing_probabilities, obrien_fleming_boundaries,
    obrien_fleming_spending,
};
pub use split::split_mismatch_p_value;
