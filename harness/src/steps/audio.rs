//! Steps about the caller's audio: accent, noise, phone line, echo, speed
//! and the rate the agent is sent.

use super::{Arg, StepDef, StepError, StepResult, World, def, float_arg, int_arg, str_arg};
use crate::audio::render::{Background, Echo, NoiseMix};
use crate::line::{GilbertElliott, Network};

/// The corpus accent a scenario names, by its common name or its code.
pub fn accent_code(name: &str) -> Result<&'static str, StepError> {
    // A quoted word ("Scottish") reaches a {word} step with its quotes.
    let name = name.trim_matches(['"', '\'']);
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
                "unknown accent \"{other}\": expected American, New York, British, RP, Scottish, Lancastrian, \
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
    w.plan_mut()?.rendering.phone = true;
    Ok(())
}

fn percent(args: &[Arg], i: usize) -> Result<f64, StepError> {
    let value = float_arg(args, i)?;
    if !(0.0..=100.0).contains(&value) {
        return Err(StepError::Invalid(format!("{value}%: expected 0 to 100")));
    }
    Ok(value / 100.0)
}

/// Change the call's network and check the result names what is wrong.
fn network(w: &mut World<'_>, change: impl FnOnce(&mut Network)) -> StepResult {
    let plan = w.plan_mut()?;
    let mut network = plan.network;
    change(&mut network);
    network.validate().map_err(StepError::Invalid)?;
    plan.network = network;
    Ok(())
}

/// Bursts of two packets on average, both ways.
fn packet_loss(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let loss = GilbertElliott::bursty(percent(args, 0)?, 2.0).map_err(StepError::Invalid)?;
    network(w, |n| (n.uplink_loss, n.downlink_loss) = (loss, loss))
}

fn bursty_loss(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (mean, burst) = (percent(args, 0)?, float_arg(args, 1)?);
    if burst < 1.0 {
        return Err(StepError::Invalid(format!("bursts of {burst} packets: expected at least 1")));
    }
    let loss = GilbertElliott::bursty(mean, burst).map_err(StepError::Invalid)?;
    network(w, |n| (n.uplink_loss, n.downlink_loss) = (loss, loss))
}

fn jitter(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let (jitter_ms, buffer) = (float_arg(args, 0)?, int_arg(args, 1)?);
    let buffer = u32::try_from(buffer).map_err(|_| StepError::Invalid(format!("a {buffer} ms jitter buffer")))?;
    network(w, |n| (n.jitter_ms, n.jitter_buffer_ms) = (jitter_ms, buffer))
}

fn delay(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let ms = int_arg(args, 0)?;
    let ms = u32::try_from(ms).map_err(|_| StepError::Invalid(format!("a delay of {ms} ms")))?;
    network(w, |n| n.one_way_ms = ms)
}

fn ideal(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    network(w, |n| *n = Network::ideal())
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
        def("the caller has/speaks( in) a(n) {word} accent", accent),
        def("the caller speaks with a(n) {string} accent", accent),
        def("the caller has a {word} voice", voice),
        def("the caller calls with {word} noise at {float} dB SNR", noise),
        def("the caller calls from a quiet room", quiet),
        def("the caller calls over a phone line", phone),
        def("the line loses {float}% of packets", packet_loss),
        def("the line loses {float}% of packets in bursts of {float}", bursty_loss),
        def("the line has {float} ms of jitter and a {int} ms jitter buffer", jitter),
        def("the agent is {int} ms from the caller's gateway", delay),
        def("the caller calls over an ideal line", ideal),
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
        let loss: (StepFn, Vec<Arg>) = (phone, vec![]);
        let wide: (StepFn, Vec<Arg>) = (rate, vec![Arg::Int(16)]);
        assert_eq!(rate_of(&[]), 16_000, "no line: the line rate");
        assert_eq!(rate_of(std::slice::from_ref(&loss)), 8_000, "a phone line: 8 kHz");
        assert_eq!(rate_of(&[loss.clone(), wide.clone()]), 16_000);
        assert_eq!(rate_of(&[wide, loss]), 16_000, "a chosen rate holds whatever comes after");
    }

    #[test]
    fn network_steps_name_what_is_wrong() {
        let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
        let mut world = World::new(CallPlan::new("s", 1), &corpus);
        let error = jitter(&mut world, &[Arg::Float(20.0), Arg::Int(50)]).expect_err("not a packet multiple");
        assert!(format!("{error:?}").contains("network.jitter_buffer_ms 50"), "{error:?}");
        let error = bursty_loss(&mut world, &[Arg::Float(5.0), Arg::Float(0.5)]).expect_err("burst under one packet");
        assert!(format!("{error:?}").contains("bursts of 0.5"), "{error:?}");
        delay(&mut world, &[Arg::Int(150)]).expect("delay");
        jitter(&mut world, &[Arg::Float(60.0), Arg::Int(200)]).expect("jitter");
        assert_eq!((world.plan.network.one_way_ms, world.plan.network.jitter_buffer_ms), (150, 200));
    }

    #[test]
    fn one_accent_step_reads_every_way_of_saying_it() {
        let defs = steps();
        for text in [
            "the caller has a Scottish accent",
            "the caller has an Irish accent",
            "the caller speaks in a Welsh accent",
            "the caller speaks in an Indian accent",
            "the caller speaks with a \"West Midlands\" accent",
            "the caller speaks with a \"Scottish\" accent",
            "the caller has a \"Scottish\" accent",
        ] {
            let bound: Vec<&str> =
                defs.iter().filter(|d| d.expression.matches(text).is_some()).map(|d| d.expression.source()).collect();
            assert_eq!(bound.len(), 1, "{text}: {bound:?}");
        }
    }

    type StepFn = fn(&mut World<'_>, &[Arg]) -> StepResult;
}
