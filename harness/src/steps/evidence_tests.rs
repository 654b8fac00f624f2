//! The tenancy `Then` steps fail when their evidence is missing: no call
//! was placed, no API answer came, no upload or load was tried.

use super::*;
use crate::audio::Corpus;
use crate::driver::CallPlan;

/// The tenancy steps that check something (the rest set up or act).
const CHECKS: &[&str] = &[
    "the request is refused as not found",
    "the request is refused as unauthorized because of its {string}",
    "the answer contains {string}",
    "the answer does not contain {string}",
    "the answer is version {int}, restored from version {int}",
    "the upload is rejected naming {string}",
    "tenant {string}'s config preview shows {string} as {string} from the {word}",
    "tenant {string}'s config preview ignores {string}",
    "tenant {string}'s overlay is version {int}",
    "call {int} heard {string}",
    "call {int} used overlay version {int}",
    "the agent refuses the tool {word}",
    "the tool {word} was called with tenant {string}'s credential {string}",
    "every turn's end-of-turn stage takes at least {int} ms",
    "tenant {string}'s records contain {string}",
    "tenant {string}'s records and history never contain {string}",
    "tenant {string}'s calls were offered only the tool {string}",
    "tenant {string}'s calls spoke with the voice {string}",
    "tenant {string}'s stored history and agent logs never contain {string}",
    "tenant {string}'s stored history and agent logs contain {string}",
    "the answer does not show tenant {string}'s credential {string}",
    "no record, history or agent log of tenant {string} shows its credential {string}",
    "loading the definitions is refused naming {string}",
];

#[test]
fn no_tenancy_check_passes_without_its_evidence() {
    let corpus = Corpus::load(&Corpus::default_dir()).expect("corpus");
    let defs = registry();
    for source in CHECKS {
        let def = defs.iter().find(|d| d.expression.source() == *source).unwrap_or_else(|| panic!("{source} exists"));
        let mut world = World::new(CallPlan::new("nothing happened", 1), &corpus);
        let args: Vec<Arg> = source
            .split('{')
            .skip(1)
            .map(|part| match part.split('}').next() {
                Some("int") => Arg::Int(1),
                Some("word") => Arg::Word("check_order".into()),
                _ => Arg::Str("acme".into()),
            })
            .collect();
        let result = (def.run)(&mut world, &args);
        assert!(result.is_err(), "`{source}` passed with no evidence");
    }
}
