//! Prints the triage's figures on the labelled **dev** sets (docs/triage.md):
//! `cargo run -p switchboard-operators --example triage_eval [-- --misses queue|high|polarity|airline]`.
//! The held-out figures come only from the accuracy test
//! (`cargo test -p switchboard-operators --test triage_accuracy -- --nocapture`).

#[path = "../tests/support/triage_eval.rs"]
mod triage_eval;

use triage_eval::*;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let misses = args
        .iter()
        .position(|a| a == "--misses")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default();
    let triage = Triage::default();
    if args.iter().any(|a| a == "--time") {
        time_operators(&triage);
        return;
    }
    if args.iter().any(|a| a == "--heldout-figures") {
        // Figures only, never the texts (docs/triage.md: no tuning on held-out).
        let f = eval_telco(&triage, &telco("telco_heldout.tsv"), |_, _| {});
        let (right, n) = eval_airline(&triage, &airline("airline_heldout.tsv"), |_, _, _| {});
        println!("telco held-out: {f}");
        println!(
            "airline held-out: 3-class={:.1}% ({right}/{n})",
            100.0 * right as f64 / n as f64
        );
        return;
    }
    let rows = telco("telco_dev.tsv");
    let f = eval_telco(&triage, &rows, |r, v| {
        let show = match misses.as_str() {
            "queue" => v.queue != r.queue,
            "high" => v.high != r.high,
            "fn" => r.high && !v.high,
            "fp" => !r.high && v.high,
            "polarity" => v.polarity != r.polarity,
            _ => false,
        };
        if show {
            println!(
                "{}\tlabel={}/{}/{}\tgot={}/{}({})/{}({:.2})\t{}\t{:?}\t{:?}",
                r.id,
                r.queue,
                if r.high { "high" } else { "low" },
                r.polarity,
                v.queue,
                v.severity,
                v.category,
                v.polarity,
                v.compound,
                r.text,
                v.evidence,
                v.reasons
            );
        }
    });
    println!("telco dev: {f}");
    let (right, n) = eval_airline(&triage, &airline("airline_dev.tsv"), |r, p, c| {
        if misses == "airline" && p != r.label {
            println!("label={}\tgot={p}({c:.2})\t{}", r.label, r.text);
        }
    });
    println!(
        "airline dev: 3-class={:.1}% ({right}/{n})",
        100.0 * right as f64 / n as f64
    );
}

/// Texts per second of sentiment + category (what `switchboard score`
/// runs per line besides language and spam) and of the whole lone-mention
/// triage, over the dev texts; median of 5 rounds.
fn time_operators(triage: &Triage) {
    let texts: Vec<String> = telco("telco_dev.tsv")
        .into_iter()
        .map(|r| r.text)
        .chain(airline("airline_dev.tsv").into_iter().map(|r| r.text))
        .collect();
    let classifier = switchboard_operators::classify::ClassifyConfig::default()
        .build()
        .expect("default rules");
    let mut score = Vec::new();
    let mut judge = Vec::new();
    for _ in 0..5 {
        let t = std::time::Instant::now();
        for x in &texts {
            std::hint::black_box(triage.sentiment().score(x));
            std::hint::black_box(classifier.classify(x));
        }
        score.push(texts.len() as f64 / t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        for x in &texts {
            std::hint::black_box(triage.judge(x));
        }
        judge.push(texts.len() as f64 / t.elapsed().as_secs_f64());
    }
    score.sort_by(f64::total_cmp);
    judge.sort_by(f64::total_cmp);
    println!(
        "{} texts: sentiment+classify {:.0} texts/s, whole triage {:.0} texts/s (medians of 5)",
        texts.len(),
        score[2],
        judge[2]
    );
}
