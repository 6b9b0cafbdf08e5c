#!/usr/bin/env bash
# Structure checks (GUIDE "Style" 1; issue 28). Exits non-zero on failure.
#
# 1. No module of a workspace library crate imports a module that imports
#    it back: the module graph of cargo-modules (edges are `use` imports
#    and the types in signatures and fields, between modules) has no cycle.
# 2. Nor do a crate's top-level modules (its folders) import each other in
#    a cycle: folders show the data flow.
# 3. The runtime never imports the tooling (`switchboard_tools`, the CLI).
#
# cargo-modules' own `--acyclic` is not used: in 0.27 it checks the
# unfiltered item graph, where a method and its own type already form a
# cycle. The graph is printed filtered to modules (`--no-fns --no-types
# --no-traits --no-owns`) and its cycles found with `tsort`.
#
# Usage: scripts/check-structure.sh            (all workspace library crates)
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_MODULES_VERSION=0.27.0
if ! cargo modules --version 2>/dev/null | grep -qx "cargo-modules $CARGO_MODULES_VERSION"; then
  echo "installing: cargo-modules $CARGO_MODULES_VERSION"
  cargo install cargo-modules --version "$CARGO_MODULES_VERSION" --locked
fi

failed=0
fail() {
  echo "check-structure: $*" >&2
  failed=1
}

# Cycles among "from to" lines on stdin; prints them and returns 1 if any.
cycles() {
  local out
  if out=$(tsort 2>&1 >/dev/null); then
    return 0
  fi
  printf '%s\n' "$out" | sed -e 's/^tsort: -: /  /' -e 's/^tsort: /    /' >&2
  return 1
}

members=$(sed -n 's/^members = \[\(.*\)\]/\1/p' Cargo.toml | tr -d '" ' | tr ',' ' ')
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
for dir in $members; do
  case "$dir" in
    # Upstream code, vendored with a patch (vendor/whatlang/PATCHED.md).
    vendor/*) continue ;;
  esac
  [ -f "$dir/src/lib.rs" ] || continue
  pkg=$(sed -n 's/^name = "\(.*\)"$/\1/p' "$dir/Cargo.toml" | head -n 1)
  echo "module graph of $pkg"
  # (pipefail: a failing cargo-modules fails the check; a crate of one
  # module prints no edge.)
  cargo modules dependencies --package "$pkg" --lib \
    --no-externs --no-sysroot --no-fns --no-types --no-traits --no-owns \
    --layout dot |
    sed -n -E 's/^[[:space:]]*"([^"]+)" -> "([^"]+)".*/\1 \2/p' >"$edges"
  if ! cycles <"$edges"; then
    fail "$pkg: modules import each other in a cycle (above)"
  fi
  # Folder level: each module stands for its top-level module.
  if ! awk '{ n = split($1, a, "::"); m = split($2, b, "::");
              print a[1] "::" a[2], b[1] "::" b[2] }' "$edges" | cycles; then
    fail "$pkg: top-level modules (folders) import each other in a cycle (above)"
  fi
done

echo "runtime imports of the tooling"
runtime=(
  pipeline/src/config pipeline/src/metrics pipeline/src/sink pipeline/src/source
  pipeline/src/stage pipeline/src/state
  pipeline/src/channel.rs pipeline/src/error.rs pipeline/src/topology.rs
  operators/src
)
if grep -rnE '\bswitchboard_tools\b|\b(crate|super|switchboard)::cli\b' "${runtime[@]}"; then
  fail "the runtime imports the tooling or the CLI (above)"
fi
if grep -nE '^switchboard(-tools)? *=' operators/Cargo.toml; then
  fail "operators/ depends on the runtime or the tooling (above)"
fi

if [ "$failed" -ne 0 ]; then
  exit 1
fi
echo "structure: ok"
