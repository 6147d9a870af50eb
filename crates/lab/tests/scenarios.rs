//! Every scenario of the lab is a test: it runs from the default seed and every one of its
//! checks (the behaviour the RFCs and Linux prescribe) must hold. A scenario that waits for
//! the stack must say so, never pass.

use ustack_lab::registry::{self, Status};

fn run(id: &str) {
    let scenario = registry::find(id).unwrap_or_else(|| panic!("no scenario {id}"));
    let Status::Ready(f) = scenario.status else {
        panic!("{id} is not available: it has no test")
    };
    let run = f(registry::DEFAULT_SEED);
    if !run.checks.passed() {
        let failed: Vec<String> =
            run.checks.failures().map(|c| format!("  {}: {}", c.claim, c.detail)).collect();
        panic!(
            "{id} (seed {}): failed checks:\n{}\n--- trace ---\n{}",
            registry::DEFAULT_SEED,
            failed.join("\n"),
            run.trace.to_text()
        );
    }
}

macro_rules! scenario_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run($id);
            }
        )*
    };
}

scenario_tests! {
    s5_lost_syn_backs_off_1_2_4_s_then_connect_times_out => "s5-lost-syn",
}
