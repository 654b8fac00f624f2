//! The canary gate's statistics: rates compared per call between the
//! stable and the canary version (the call is the unit of analysis).

mod holm;
mod proportions;

pub use holm::weighted_holm;
pub use proportions::{Count, calls_needed, harm_p_value, newcombe_difference, wilson};
