//! Triage accuracy over the committed **held-out** labelled sets
//! (docs/triage.md). Never tune on these texts: develop with
//! `cargo run -p switchboard-operators --example triage_eval` (dev sets).

mod support;

use support::triage_eval::*;

#[test]
fn heldout_accuracy() {
    let triage = Triage::default();
    let f = eval_telco(&triage, &telco("telco_heldout.tsv"), |_, _| {});
    let (right, n) = eval_airline(&triage, &airline("airline_heldout.tsv"), |_, _, _| {});
    let airline = right as f64 / n as f64;
    println!("telco held-out: {f}");
    println!(
        "airline held-out: 3-class={:.1}% ({right}/{n})",
        100.0 * airline
    );
}
