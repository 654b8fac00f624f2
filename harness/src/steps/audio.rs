//! Steps about the caller's audio: accent, noise, phone line, echo, speed
//! and the rate the agent is sent.

use super::{Arg, StepDef, StepError, StepResult, World, def, float_arg, int_arg, str_arg};
use crate::audio::channel::PhoneChannel;
use crate::audio::render::{Background, Echo, NoiseMix};

/// The corpus accent a scenario names, by its common name or its code.
pub fn accent_code(name: &str) -> Result<&'static str, StepError> {
    Ok(match name.to_lowercase().replace(['-', '_'], " ").as_str() {
        "american" | "us" | "general american" | "en us" => "en-us",
        "new york" | "nyc" | "new yorker" | "en us nyc" => "en-us-nyc",
        "british" | "english" | "uk" | "en gb" => "en-gb",
        "rp" | "received pronunciation" | "en gb x rp" => "en-gb-x-rp",
        "scottish" | "scots" | "en gb scotland" => "en-gb-scotland",
        "lancastrian" | "lancashire" | "en gb x gbclan" => "en-gb-x-gbclan",
        "west midlands" | "brummie" | "en gb x gbcwmd" => "en-gb-x-gbcwmd",
        "caribbean" | "west indian" | "en 029" => "en-029",
        other => {
            return Err(StepError::Invalid(format!(
                "unknown accent {other:?}: expected American, New York, British, RP, Scottish, Lancastrian, \
                 West Midlands or Caribbean"
            )));
        }
    })
}

fn accent(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let code = accent_code(str_arg(args, 0)?)?;
    w.plan_mut()?.accent = code.into();
    Ok(())
}

fn voice(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let variant = match str_arg(args, 0)?.to_lowercase().as_str() {
        "female" | "woman's" => "f",
        "male" | "man's" => "m",
        other => return Err(StepError::Invalid(format!("unknown voice {other:?}: expected female or male"))),
    };
    w.plan_mut()?.variant = variant.into();
    Ok(())
}

fn noise(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let name = str_arg(args, 0)?;
    let background = Background::parse(name).ok_or_else(|| {
        StepError::Invalid(format!("unknown noise {name:?}: expected white, pink, brown, hum, babble, cafe or street"))
    })?;
    let snr_db = float_arg(args, 1)?;
    w.plan_mut()?.rendering.noise = Some(NoiseMix { background, snr_db });
    Ok(())
}

fn quiet(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    w.plan_mut()?.rendering.noise = None;
    Ok(())
}

/// Over a phone line the agent gets 8 kHz unless a step chose another rate,
/// in whatever order the steps come.
fn phone(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    w.plan_mut()?.rendering.phone.get_or_insert_with(PhoneChannel::default);
    Ok(())
}

fn percent(args: &[Arg], i: usize) -> Result<f64, StepError> {
    let value = float_arg(args, i)?;
    if !(0.0..=100.0).contains(&value) {
        return Err(StepError::Invalid(format!("{value}%: expected 0 to 100")));
    }
    Ok(value / 100.0)
}

fn packet_loss(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let loss_rate = percent(args, 0)?;
    phone(w, args)?;
    w.plan_mut()?.rendering.phone.get_or_insert_with(PhoneChannel::default).loss_rate = loss_rate;
    Ok(())
}

fn jitter(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (jitter_ms, buffer) = (float_arg(args, 0)?, float_arg(args, 1)?);
    phone(w, args)?;
    let channel = w.plan_mut()?.rendering.phone.get_or_insert_with(PhoneChannel::default);
    channel.jitter_ms = jitter_ms;
    channel.jitter_buffer_ms = buffer;
    Ok(())
}

fn echo(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let level_db = float_arg(args, 0)?;
    let delay_ms = u32::try_from(int_arg(args, 1)?).map_err(|_| StepError::Invalid("a negative echo delay".into()))?;
    w.plan_mut()?.rendering.echo = Some(Echo { level_db, delay_ms });
    Ok(())
}

fn speed(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.rendering.speed = float_arg(args, 0)?;
    Ok(())
}

fn rate(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let khz = int_arg(args, 0)?;
    w.plan_mut()?.rendering.output_rate = Some(u32::try_from(khz * 1000).unwrap_or(0));
    Ok(())
}

fn level(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    w.plan_mut()?.rendering.speech_dbfs = float_arg(args, 0)?;
    Ok(())
}

pub(super) fn steps() -> Vec<StepDef> {
    vec![
        def("the caller has an {word} accent", accent),
        def("the caller has a {word} accent", accent),
        def("the caller speaks in a {word} accent", accent),
        def("the caller speaks in an {word} accent", accent),
        def("the caller speaks with a {string} accent", accent),
        def("the caller has a {word} voice", voice),
        def("the caller calls with {word} noise at {float} dB SNR", noise),
        def("the caller calls from a quiet room", quiet),
        def("the caller calls over a phone line", phone),
        def("the phone line loses {float}% of packets", packet_loss),
        def("the phone line has {float} ms of jitter and a {float} ms jitter buffer", jitter),
        def("the agent's voice echoes into the caller's microphone at {float} dB after {int} ms", echo),
        def("the caller speaks at {float} times normal speed", speed),
        def("the caller's audio reaches the agent at {int} kHz", rate),
        def("the caller speaks at {float} dBFS", level),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Corpus;
    use crate::driver::CallPlan;

    #[test]
    fn a_phone_line_sends_8_khz_unless_a_rate_is_chosen_in_either_order() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let rate_of = |steps: &[(StepFn, Vec<Arg>)]| {
            let mut world = World::new(CallPlan::new("s", 1), &corpus);
            for (step, args) in steps {
                step(&mut world, args).expect("step");
            }
            world.plan.rendering.rate()
        };
        let loss: (StepFn, Vec<Arg>) = (packet_loss, vec![Arg::Float(5.0)]);
        let wide: (StepFn, Vec<Arg>) = (rate, vec![Arg::Int(16)]);
        assert_eq!(rate_of(&[]), 16_000, "no line: the line rate");
        assert_eq!(rate_of(std::slice::from_ref(&loss)), 8_000, "a phone line: 8 kHz");
        assert_eq!(rate_of(&[loss.clone(), wide.clone()]), 16_000);
        assert_eq!(rate_of(&[wide, loss]), 16_000, "a chosen rate holds whatever comes after");
    }

    type StepFn = fn(&mut World<'_>, &[Arg]) -> StepResult;
}
