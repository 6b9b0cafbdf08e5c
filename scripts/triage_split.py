#!/usr/bin/env python3
"""Build the triage evaluation fixtures from the real-data sources.

Reads the two public sources in the shared real-data folder and the committed
labels, and writes four TSV files under operators/tests/fixtures/triage/:

  telco_dev.tsv, telco_heldout.tsv    the labelled telco tweets, split
  airline_dev.tsv, airline_heldout.tsv the airline-care sentiment set, split

Split rule (fixed; see docs/triage.md):
  bucket(key) = int(sha256("switchboard-triage-v3:" + key).hexdigest()[:8], 16) % 100
  telco:   key = author  (one customer's tweets never straddle the split),
           held out when bucket < 30
  airline: key = id,     held out when bucket < 26

The sources are tab-separated with no quoting: a double quote is an ordinary
character (reading them with CSV quote handling merges rows). The outputs
follow the same convention: one record per line, fields split on tabs.

Usage:
  python3 scripts/triage_split.py [--source-dir DIR] [--check]

--source-dir defaults to the first of $SWITCHBOARD_REAL_DATA,
<repo>/../shared/data/real and /work/shared/data/real that exists.
--check writes nothing and fails when the committed files differ from what
the sources and labels produce.
"""

import argparse
import hashlib
import os
import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "operators" / "tests" / "fixtures" / "triage"
LABELS = FIXTURES / "telco_labels.tsv"

SALT = "switchboard-triage-v3:"
TELCO_HELDOUT_BELOW = 30
AIRLINE_HELDOUT_BELOW = 26

# The sources the labels were made on; a different file would silently
# misalign labels or move the split.
SOURCE_SHA256 = {
    "telco_inbound.tsv": "4e0b871020e33071b86997ab8765e7a2773e068dd5048cce2520b08988faac65",
    "airline_sentiment.tsv": "a41a9dea4f6ad2ceb1f3c5223839926ae17eabe0c53501acb9dc83a78fa802dc",
}

# SPEC default taxonomy for a lone mention of an unknown author.
QUEUE_OF = {
    "network_outage": "technical-support",
    "broadband_fault": "technical-support",
    "engineer_appointment": "field-service",
    "billing": "billing",
    "account_access": "account-support",
    "switching_cancellation": "retention",
    "delivery": "orders-delivery",
    "complaint_escalation": "complaints-escalation",
    "praise": "social-engagement",
    "general_enquiry": "social-engagement",
    "spam": "none",
}
SEVERITY_BANDS = {"high", "low"}
POLARITIES = {"negative", "neutral", "positive"}

TELCO_COLUMNS = ["id", "brand_account", "created_at", "author", "text",
                 "category", "queue", "severity_band", "polarity", "note"]


def bucket(key: str) -> int:
    return int(hashlib.sha256((SALT + key).encode("utf-8")).hexdigest()[:8], 16) % 100


def read_tsv(path: Path) -> tuple[list[str], list[dict]]:
    """Tab-separated, first line a header, no quoting, no embedded newlines."""
    text = path.read_text(encoding="utf-8")
    if "\r" in text:
        sys.exit(f"{path}: carriage return found; expected LF-only lines")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    header = lines[0].split("\t")
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(header):
            sys.exit(f"{path}:{n}: {len(fields)} fields, header has {len(header)}")
        rows.append(dict(zip(header, fields)))
    return header, rows


def render(header: list[str], rows: list[dict]) -> str:
    out = ["\t".join(header)]
    for r in rows:
        fields = [r[c] for c in header]
        for f in fields:
            if "\t" in f or "\n" in f or "\r" in f:
                sys.exit(f"field with a tab or newline in row id={r.get('id')}")
        out.append("\t".join(fields))
    return "\n".join(out) + "\n"


def find_source_dir(arg: str | None) -> Path:
    candidates = [arg] if arg else [
        os.environ.get("SWITCHBOARD_REAL_DATA"),
        str(REPO.parent / "shared" / "data" / "real"),
        "/work/shared/data/real",
    ]
    for c in candidates:
        if c and (Path(c) / "telco_inbound.tsv").is_file():
            return Path(c)
    sys.exit("real-data folder not found; pass --source-dir DIR "
             "(the folder holding telco_inbound.tsv and airline_sentiment.tsv)")


def check_sources(src: Path) -> None:
    for name, want in SOURCE_SHA256.items():
        got = hashlib.sha256((src / name).read_bytes()).hexdigest()
        if got != want:
            sys.exit(f"{src / name}: sha256 {got}, expected {want}: "
                     "the labels and the split were made on another version")


def build_telco(src: Path) -> tuple[list[dict], list[dict]]:
    header, tweets = read_tsv(src / "telco_inbound.tsv")
    _, labels = read_tsv(LABELS)
    by_id = {}
    for lab in labels:
        if lab["id"] in by_id:
            sys.exit(f"{LABELS}: id {lab['id']} labelled twice")
        if lab["category"] not in QUEUE_OF:
            sys.exit(f"{LABELS}: id {lab['id']}: unknown category {lab['category']!r}")
        if lab["severity_band"] not in SEVERITY_BANDS:
            sys.exit(f"{LABELS}: id {lab['id']}: bad severity_band {lab['severity_band']!r}")
        if lab["polarity"] not in POLARITIES:
            sys.exit(f"{LABELS}: id {lab['id']}: bad polarity {lab['polarity']!r}")
        by_id[lab["id"]] = lab
    ids = {t["id"] for t in tweets}
    if len(ids) != len(tweets):
        sys.exit("telco source: duplicate ids")
    stray = set(by_id) - ids
    if stray:
        sys.exit(f"{LABELS}: ids not in the source: {sorted(stray)[:5]}")
    dev, held = [], []
    for t in tweets:
        lab = by_id.get(t["id"])
        if lab is None:
            continue  # unlabelled tweets stay out of both parts
        row = {c: t[c] for c in header}
        row.update(category=lab["category"], queue=QUEUE_OF[lab["category"]],
                   severity_band=lab["severity_band"], polarity=lab["polarity"],
                   note=lab["note"])
        (held if bucket(t["author"]) < TELCO_HELDOUT_BELOW else dev).append(row)
    return dev, held


def build_airline(src: Path) -> tuple[list[str], list[dict], list[dict]]:
    header, rows = read_tsv(src / "airline_sentiment.tsv")
    if len({r["id"] for r in rows}) != len(rows):
        sys.exit("airline source: duplicate ids")
    dev = [r for r in rows if bucket(r["id"]) >= AIRLINE_HELDOUT_BELOW]
    held = [r for r in rows if bucket(r["id"]) < AIRLINE_HELDOUT_BELOW]
    return header, dev, held


def summary(name: str, rows: list[dict], cols: list[str]) -> None:
    print(f"{name}: {len(rows)} rows")
    for c in cols:
        counts = Counter(r[c] for r in rows)
        print("  " + c + ": " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source-dir")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    src = find_source_dir(args.source_dir)
    check_sources(src)

    t_dev, t_held = build_telco(src)
    a_header, a_dev, a_held = build_airline(src)
    outputs = {
        "telco_dev.tsv": render(TELCO_COLUMNS, t_dev),
        "telco_heldout.tsv": render(TELCO_COLUMNS, t_held),
        "airline_dev.tsv": render(a_header, a_dev),
        "airline_heldout.tsv": render(a_header, a_held),
    }
    if args.check:
        stale = [n for n, body in outputs.items()
                 if not (FIXTURES / n).is_file()
                 or (FIXTURES / n).read_text(encoding="utf-8") != body]
        if stale:
            sys.exit("out of date: " + ", ".join(stale) + " (run scripts/triage_split.py)")
        print("fixtures up to date")
        return
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for n, body in outputs.items():
        (FIXTURES / n).write_text(body, encoding="utf-8")
    for name, rows in (("telco_dev", t_dev), ("telco_heldout", t_held)):
        summary(name, rows, ["category", "queue", "severity_band", "polarity"])
    for name, rows in (("airline_dev", a_dev), ("airline_heldout", a_held)):
        summary(name, rows, ["label"])


if __name__ == "__main__":
    main()
