//! The house rules that a tool can check (GUIDE "Style" 1 and 7; issue 28),
//! run by `cargo test --workspace` so that CI holds them:
//!
//! - no module imports a module that imports it back, folders do not import
//!   each other in a cycle, and the runtime never imports the tooling
//!   (`scripts/check-structure.sh`);
//! - no non-test function over 120 lines (`clippy::too_many_lines`, the
//!   threshold in `clippy.toml`);
//! - no non-test source file over 800 lines.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn run(what: &str, cmd: &mut Command) {
    let out = cmd
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
}

#[test]
fn modules_import_one_way_and_the_runtime_never_imports_the_tooling() {
    run(
        "scripts/check-structure.sh",
        Command::new("bash").arg("scripts/check-structure.sh"),
    );
}

#[test]
fn no_function_is_longer_than_a_screen() {
    // The library and binary code only (tests may be long); the threshold
    // is clippy.toml's. Same target directory as the tests: clippy's check
    // artifacts are its own, so this does not rebuild the test binaries.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(
        "cargo clippy -D clippy::too_many_lines",
        Command::new(cargo).args([
            "clippy",
            "--workspace",
            "--lib",
            "--bins",
            "--quiet",
            "--",
            "-D",
            "clippy::too_many_lines",
        ]),
    );
}

/// Lines of a source file before its inline test module, if any.
fn non_test_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod tests"))
        .unwrap_or(lines.len())
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            // Test-only folders: `tests/` beside the code.
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_longer_than_one_sitting() {
    const MAX_LINES: usize = 800;
    let root = root();
    let mut files = Vec::new();
    for dir in ["operators/src", "pipeline/src", "tools/src", "benches"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut over: Vec<String> = files
        .iter()
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).expect("readable source");
            let n = non_test_lines(&text);
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", p.display()))
        })
        .collect();
    over.sort();
    assert!(
        over.is_empty(),
        "non-test files over {MAX_LINES} lines; split them along their seams:\n{}",
        over.join("\n")
    );
}

#[test]
fn the_file_size_check_counts_code_before_the_test_module() {
    let text = "fn a() {}\nfn b() {}\n#[cfg(test)]\nmod tests {\n}\n";
    assert_eq!(non_test_lines(text), 2);
    assert_eq!(non_test_lines("fn a() {}\n"), 1);
}
