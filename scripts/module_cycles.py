#!/usr/bin/env python3
"""Module import cycles of a Rust crate: no module may import a module that
imports it back, directly or round a loop (GUIDE, style rule 1).

Two sources of the import graph, both checked the same way (strongly
connected components of more than one module are cycles; exit status 1 when
there is one):

  python3 scripts/module_cycles.py --src operators/src
      Scans the sources: every path that names another module of the crate
      (`use` declarations, and paths inside function bodies and types:
      `crate::x::y`, `super::z`, `child::f()`), with `#[cfg(test)]` modules,
      comments and string literals left out. Needs nothing but Python.

  cargo modules dependencies --package P --lib --no-externs --no-sysroot \\
      | python3 scripts/module_cycles.py --dot
      Reads cargo-modules' graph (rust-analyzer's resolution of `use`
      declarations and item signatures; it does not see paths inside
      function bodies). Every item is attributed to the module that defines
      it. (`cargo modules dependencies --acyclic` itself checks the item
      graph, where a type and its own methods always form a loop, so it
      cannot tell module cycles apart.)
"""
import argparse
import os
import re
import sys
from collections import defaultdict


def sccs(graph):
    """Tarjan's strongly connected components, iteratively."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(sorted(comp))
    return out


def report(graph, why, what):
    cycles = [c for c in sccs(graph) if len(c) > 1]
    n_edges = sum(len(v) for v in graph.values())
    print(f"{what}: {len(graph)} modules, {n_edges} import edges, {len(cycles)} cycle(s)")
    for c in cycles:
        members = set(c)
        print(f"cycle of {len(c)} modules:")
        for v in c:
            for w in sorted(graph[v] & members):
                print(f"  {v} -> {w}   ({sorted(why[(v, w)])[0]})")
    return 1 if cycles else 0


# ---------------------------------------------------------------- --dot

DOT_NODE = re.compile(r'^\s*"([^"]+)"\s*\[label="([^"|]*)\|')
DOT_EDGE = re.compile(r'^\s*"([^"]+)"\s*->\s*"([^"]+)"\s*\[label="uses"')


def from_dot(lines):
    modules, edges = set(), []
    for line in lines:
        m = DOT_EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2)))
            continue
        m = DOT_NODE.match(line)
        if m and (m.group(2) == "crate" or m.group(2).endswith("mod")):
            modules.add(m.group(1))

    def module_of(path):
        while path not in modules and "::" in path:
            path = path.rsplit("::", 1)[0]
        return path

    graph, why = defaultdict(set), defaultdict(set)
    for a, b in edges:
        ma, mb = module_of(a), module_of(b)
        graph[ma]
        graph[mb]
        if ma != mb:
            graph[ma].add(mb)
            why[(ma, mb)].add(f"{a} uses {b}")
    for m in modules:
        graph[m]
    return graph, why


# ---------------------------------------------------------------- --src

MOD_DECL = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
TEST_MOD_DECL = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
TEST_MOD_INLINE = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
USE = re.compile(r"\buse\s+([^;]+);")
PATH = re.compile(r"(?<![\w:])((?:crate|super|self|[a-z_][a-z0-9_]*)(?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def strip(code):
    """Code without comments, string/char literals and inline test modules."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "r" and re.match(r'r#*"', code[i:]) and (i == 0 or not code[i - 1].isalnum()):
            hashes = re.match(r'r(#*)"', code[i:]).group(1)
            j = code.find('"' + hashes, i + len(hashes) + 2)
            out.append('""')
            i = n if j < 0 else j + 1 + len(hashes)
        elif c == '"':
            j = i + 1
            while j < n and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", code[i:]):
            i += len(re.match(r"'(\\.[^']*|[^\\'])'", code[i:]).group(0))
            out.append("' '")
        else:
            out.append(c)
            i += 1
    code = "".join(out)
    while True:
        m = TEST_MOD_INLINE.search(code)
        if not m:
            return code
        depth, j = 1, m.end()
        while j < len(code) and depth:
            depth += {"{": 1, "}": -1}.get(code[j], 0)
            j += 1
        code = code[: m.start()] + code[j:]


def expand_use(tree):
    """`a::{b, c::{d, e}}` → ["a::b", "a::c::d", "a::c::e"] (globs, `as` dropped)."""
    tree = re.sub(r"\s+as\s+\w+", "", tree)
    tree = re.sub(r"\s+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            cur += ch
        if cur:
            parts.append(cur)
        return parts

    def go(prefix, s):
        i = s.find("{")
        if i < 0:
            return [prefix + s]
        head, inner = s[:i], s[i + 1 : s.rfind("}")]
        return [p for part in split_top(inner) for p in go(prefix + head, part)]

    return [p.rstrip(":").replace("::self", "") for p in go("", tree)]


def from_src(src):
    files = {}  # module path -> (file, code)
    children = defaultdict(set)
    test_only = set()
    for dirpath, _, names in os.walk(src):
        for name in sorted(names):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, src)[:-3].split(os.sep)
            if rel[-1] in ("lib", "main", "mod"):
                rel = rel[:-1]
            module = "::".join(["crate"] + rel)
            with open(path, encoding="utf-8") as f:
                raw = f.read()
            for m in TEST_MOD_DECL.finditer(raw):
                test_only.add(f"{module}::{m.group(1)}")
            files[module] = (path, strip(raw))
    for module in list(files):
        if any(module == t or module.startswith(t + "::") for t in test_only):
            del files[module]
    for module, (_, code) in files.items():
        for m in MOD_DECL.finditer(code):
            child = f"{module}::{m.group(1)}"
            if child in files:
                children[module].add(m.group(1))
    modules = set(files)

    def resolve(current, path):
        segs = path.split("::")
        if segs[0] == "crate":
            at, rest = "crate", segs[1:]
        elif segs[0] in ("super", "self"):
            at, rest = current, segs
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    at = at.rsplit("::", 1)[0]
                rest = rest[1:]
        elif segs[0] in children[current]:
            at, rest = current, segs
        else:
            return None
        for s in rest:
            if f"{at}::{s}" in modules:
                at = f"{at}::{s}"
            else:
                break
        return at

    graph, why = defaultdict(set), defaultdict(set)
    for module, (path, code) in files.items():
        graph[module]
        refs = []
        for m in USE.finditer(code):
            refs += expand_use(m.group(1))
        body = USE.sub(" ", code)
        refs += [m.group(1) for m in PATH.finditer(body)]
        for ref in refs:
            target = resolve(module, ref)
            if target and target != module and target in modules:
                graph[module].add(target)
                why[(module, target)].add(f"{os.path.relpath(path)}: {ref}")
    return graph, why


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--src", help="the crate's src directory")
    g.add_argument("--dot", action="store_true", help="read cargo-modules' DOT graph on stdin")
    a = ap.parse_args()
    if a.dot:
        graph, why = from_dot(sys.stdin)
        return report(graph, why, "cargo-modules graph")
    graph, why = from_src(a.src)
    return report(graph, why, a.src)


if __name__ == "__main__":
    sys.exit(main())
