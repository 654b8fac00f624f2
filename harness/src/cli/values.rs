//! Parsers for numeric arguments with a range: clap names the argument and
//! shows the value, these say what was expected.

fn number(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("expected a number, got `{text}`"))?;
    if value.is_finite() { Ok(value) } else { Err(format!("expected a finite number, got `{text}`")) }
}

/// A probability strictly between 0 and 1 (a share, an alpha, a power).
pub fn open_unit(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(format!("expected a value strictly between 0 and 1, got {value}"))
    }
}

/// A one-sided alpha of a test of the gate (see [`crate::gate::check_alpha`]).
pub fn alpha(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    crate::gate::check_alpha(value).map(|()| value).map_err(|e| format!("{e}, got {}", text.trim()))
}

/// A power wanted (see [`crate::gate::check_power`]).
pub fn power(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    crate::gate::check_power(value).map(|()| value).map_err(|e| format!("{e}, got {}", text.trim()))
}

/// A share from 0 to 1, both included.
pub fn unit(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if (0.0..=1.0).contains(&value) { Ok(value) } else { Err(format!("expected a value from 0 to 1, got {value}")) }
}

/// A rise of a rate, at least 0 and below 1 (0.02 = +2 points).
pub fn rate_rise(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if (0.0..1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "expected a rise of a rate from 0 up to (not including) 1, such as 0.02 for +2 points, got {value}"
        ))
    }
}

/// A positive amount (a rate, minutes, a ratio).
pub fn positive(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 { Ok(value) } else { Err(format!("expected a positive number, got {value}")) }
}

/// A count from 1 to `max`.
fn count(text: &str, max: u64) -> Result<u64, String> {
    let value: u64 = text.trim().parse().map_err(|_| format!("expected a whole number, got `{text}`"))?;
    if (1..=max).contains(&value) {
        Ok(value)
    } else {
        Err(format!("expected a whole number from 1 to {max}, got {value}"))
    }
}

/// The most looks a bake may take. Past a few hundred the increments
/// between looks are too small for the boundaries' numerical integration
/// (at 500 it gives nonsense), and a look every three seconds of a
/// 10-minute bake already costs all a look can: 1.070x at 200 looks
/// against 1.068x at 100.
pub const MAX_LOOKS: u64 = 200;

/// Looks during a bake: 1 to [`MAX_LOOKS`].
pub fn looks(text: &str) -> Result<usize, String> {
    count(text, MAX_LOOKS).map(|n| n as usize)
}

/// A bake's length in whole minutes of virtual time: the gate looks once
/// a minute and decides at the last look, so 1 to [`MAX_LOOKS`] minutes.
pub fn bake_minutes(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value.fract() != 0.0 || !(1.0..=MAX_LOOKS as f64).contains(&value) {
        return Err(format!(
            "expected a whole number of minutes from 1 to {MAX_LOOKS} (the gate looks once a minute and decides at \
             the last look), got {value}"
        ));
    }
    Ok(value)
}

/// Calls a minute a rollout places or a plan assumes: 1 to 100,000.
pub fn call_rate(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if (1.0..=100_000.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("expected 1 to 100000 calls a minute, got {value}"))
    }
}

/// The longest bake a plan considers, minutes: a week.
pub const MAX_PLAN_MINUTES: f64 = 7.0 * 24.0 * 60.0;

/// A planned bake, minutes: more than 0, at most a week.
pub fn plan_minutes(text: &str) -> Result<f64, String> {
    let value = positive(text)?;
    if value <= MAX_PLAN_MINUTES {
        Ok(value)
    } else {
        Err(format!("expected at most {MAX_PLAN_MINUTES} minutes (a week), got {value}"))
    }
}

/// Stable calls for each canary call: more than 0, at most 100.
pub fn arm_ratio(text: &str) -> Result<f64, String> {
    let value = positive(text)?;
    if value <= 100.0 {
        Ok(value)
    } else {
        Err(format!("expected at most 100 stable calls a canary call, got {value}"))
    }
}

/// A number of simulations or canary calls: 1 to 10 million.
pub fn how_many(text: &str) -> Result<usize, String> {
    count(text, 10_000_000).map(|n| n as usize)
}

/// Bootstrap resamples: 100 to 100,000 (as the gate config allows).
pub fn resamples(text: &str) -> Result<usize, String> {
    let n = count(text, 100_000)?;
    if n >= 100 { Ok(n as usize) } else { Err(format!("expected at least 100 resamples, got {n}")) }
}

/// A number of calls to place: 1 to 10 million.
pub fn calls(text: &str) -> Result<u64, String> {
    count(text, 10_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_values_say_what_was_expected() {
        assert_eq!(open_unit("0.1"), Ok(0.1));
        for bad in ["0", "1", "1.5", "-0.2", "NaN", "inf", "ten"] {
            let error = open_unit(bad).expect_err(bad);
            assert!(error.starts_with("expected"), "{bad}: {error}");
        }
        assert_eq!(unit("1"), Ok(1.0));
        assert!(unit("1.01").is_err());
        assert_eq!(rate_rise("0"), Ok(0.0));
        assert!(rate_rise("2").expect_err("2 is no rise of a rate").contains("0.02 for +2 points"));
        assert!(positive("0").is_err() && positive("-3").is_err());
        assert_eq!(looks("10"), Ok(10));
        assert!(
            looks("0").is_err() && looks("201").is_err() && looks("1000000000000").is_err() && looks("-1").is_err()
        );
        assert!(bake_minutes("10").is_ok() && bake_minutes("500").is_err() && bake_minutes("1.5").is_err());
        assert!(bake_minutes("0").expect_err("no bake").contains("whole number of minutes from 1 to 200"));
        assert!(call_rate("1e300").is_err() && arm_ratio("1e300").is_err());
        assert!(call_rate("1e-300").expect_err("no traffic").contains("expected 1 to 100000 calls a minute"));
        assert!(how_many("0").is_err());
        assert_eq!(alpha("0.05"), Ok(0.05));
        for bad in ["1e-300", "0.5", "0.999", "0"] {
            assert!(alpha(bad).expect_err(bad).contains("expected a one-sided alpha from 0.000001 to 0.25"), "{bad}");
        }
        assert!(power("0.8").is_ok() && power("0.99999999").is_err() && power("0.2").is_err());
        assert!(plan_minutes("30.5").is_ok() && plan_minutes("1e9").expect_err("a week").contains("a week"));
    }
}
