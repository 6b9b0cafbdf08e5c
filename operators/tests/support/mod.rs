pub mod triage_eval;
