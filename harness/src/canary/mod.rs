//! The canary gate's statistics: rates compared per call between the
//! stable and the canary version (the call is the unit of analysis).

mod holm;
mod proportions;
mod split;

pub use holm::weighted_holm;
pub use proportions::{Count, calls_needed, harm_p_value, newcombe_difference, wilson};
pub use split::split_mismatch_p_value;
