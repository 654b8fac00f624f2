//! `When` steps: what the caller does.

use super::{Arg, StepDef, StepError, StepResult, World, def, float_arg, ms_arg, str_arg};
use crate::driver::{CallerAction, InterruptAt, Pause};

/// Argument `i`, a phrase the caller says: the corpus must hold it in the
/// caller's accent, or the step (not the one that later runs the call) is
/// the scenario error.
fn phrase(w: &World<'_>, args: &[Arg], i: usize) -> Result<String, StepError> {
    let text = str_arg(args, i)?;
    w.corpus.check_phrase(text, &w.plan.accent, &w.plan.variant).map_err(|e| StepError::Invalid(e.to_string()))?;
    Ok(text.to_string())
}

fn says(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let text = phrase(w, args, 0)?;
    w.plan_mut()?.script.push(CallerAction::Say { text, pauses: Vec::new() });
    Ok(())
}

fn pausing(w: &mut World<'_>, args: &[Arg], filled: bool) -> StepResult {
    let text = phrase(w, args, 0)?;
    let pause = Pause { ms: ms_arg(args, 1)?, after_word: str_arg(args, 2)?.to_string(), filled };
    w.plan_mut()?.script.push(CallerAction::Say { text, pauses: vec![pause] });
    Ok(())
}

fn says_pausing(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    pausing(w, args, false)
}

fn says_hesitating(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    pausing(w, args, true)
}

fn interrupts_after(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let at = into_reply(float_arg(args, 0)?)?;
    let text = phrase(w, args, 1)?;
    w.plan_mut()?.script.push(CallerAction::Interrupt { at, text, backchannel: false });
    Ok(())
}

/// A point `seconds` into the agent's reply.
fn into_reply(seconds: f64) -> Result<InterruptAt, StepError> {
    if !(0.0..=60.0).contains(&seconds) {
        return Err(StepError::Invalid(format!("{seconds} seconds: expected 0 to 60")));
    }
    Ok(InterruptAt::AfterMs((seconds * 1000.0).round() as u32))
}

fn backchannels_after(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let text = phrase(w, args, 0)?;
    let at = into_reply(float_arg(args, 1)?)?;
    w.plan_mut()?.script.push(CallerAction::Interrupt { at, text, backchannel: true });
    Ok(())
}

fn coughs_after(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let at = into_reply(float_arg(args, 0)?)?;
    w.plan_mut()?.script.push(CallerAction::Interrupt { at, text: String::new(), backchannel: true });
    Ok(())
}

fn last_word(w: &mut World<'_>, args: &[Arg], first_chunk: bool) -> StepResult {
    let text = phrase(w, args, 0)?;
    let at = InterruptAt::LastWord { percent: 25, first_chunk };
    w.plan_mut()?.script.push(CallerAction::Interrupt { at, text, backchannel: false });
    Ok(())
}

fn interrupts_last_word(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    last_word(w, args, false)
}

fn interrupts_first_chunk_last_word(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    last_word(w, args, true)
}

fn silent(w: &mut World<'_>, args: &[Arg]) -> StepResult {
    let seconds = ms_arg(args, 0)?;
    w.plan_mut()?.script.push(CallerAction::Silence { ms: seconds.saturating_mul(1000) });
    Ok(())
}

fn hangs_up(w: &mut World<'_>, _: &[Arg]) -> StepResult {
    w.plan_mut()?.script.push(CallerAction::HangUp);
    Ok(())
}

pub(super) fn steps() -> Vec<StepDef> {
    vec![
        def("the caller says {string}", says),
        def("the caller says {string} pausing {int} ms after {string}", says_pausing),
        def("the caller says {string} hesitating {int} ms after {string}", says_hesitating),
        def("the caller interrupts {float} seconds into the agent's reply saying {string}", interrupts_after),
        def("the caller interrupts during the last word of the agent's reply saying {string}", interrupts_last_word),
        def(
            "the caller interrupts during the last word of the agent's first sentence saying {string}",
            interrupts_first_chunk_last_word,
        ),
        def("the caller says {string} as a backchannel {float} seconds into the agent's reply", backchannels_after),
        def("the caller coughs {float} seconds into the agent's reply", coughs_after),
        def("the caller stays silent for {int} seconds", silent),
        def("the caller hangs up", hangs_up),
    ]
}
