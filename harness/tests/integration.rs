use voicegate::audio::Corpus;
use voicegate::checks::evaluate;
use voicegate::doubles::LlmRule;
use voicegate::driver::{CallPlan, CallerAction, InterruptAt, run_call};

fn corpus() -> Corpus {
    Corpus::load(&Corpus::default_dir()).expect("committed corpus")
}

#[test]
fn smoke() {
    let mut plan = CallPlan::new("smoke", 7);
    plan.llm.rules.push(LlmRule { trigger: "opening hours".into(), reply: "We are open from nine in the morning to five in the evening, Monday to Friday.".into(), tool: None });
    plan.script.push(CallerAction::Say { text: "what are your opening hours".into(), pauses: vec![] });
    plan.script.push(CallerAction::Interrupt { at: InterruptAt::AfterMs(1200), text: "wait stop I have a different question".into() });
    let outcome = run_call(&plan, &corpus()).expect("call runs");
    println!("{}", outcome.record.to_jsonl());
    let report = evaluate(&outcome.record, &plan.budgets);
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
