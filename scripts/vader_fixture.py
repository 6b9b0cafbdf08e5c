#!/usr/bin/env python3
"""Regenerate the VADER parity fixture, or time the Python reference.

    pip install vaderSentiment==3.3.2
    python3 scripts/vader_fixture.py            # writes operators/tests/fixtures/vader_parity.jsonl
    python3 scripts/vader_fixture.py --bench    # Python texts/s on the bench corpus

The fixture is a deterministic (fixed seed) set of English sentences built
from templates and word lists that exercise every VADER rule -- lexicon words
(sampled from the shipped lexicon), negations, boosters and dampeners, "but",
ALL-CAPS, ! and ?, emoticons, emoji, idioms and VADER's own examples -- plus
random "word salad" mixing all of them, and the texts of the telco labelled
set (realistic care mentions). Each line is scored by the real
vaderSentiment 3.3.2 and written as JSON: text, compound, pos, neu, neg.

The bench corpus is the fixture's texts followed by the telco labelled set's
texts (operators/tests/fixtures/telco_labelled.jsonl); the Rust bench
(benches/benches/sentiment.rs) scores the same corpus.

Note: CPython >= 3.12 sums floats with compensated summation; the committed
fixture was produced with CPython 3.11 (plain left-to-right sum), which the
Rust port mirrors. A 3.12 regeneration may differ in the last bit of rare
sums, far below the 0.0005 tolerance.
"""

import argparse
import json
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "operators", "tests", "fixtures")
PARITY = os.path.join(FIXTURES, "vader_parity.jsonl")
TELCO = os.path.join(FIXTURES, "telco_labelled.jsonl")
LEXICON_DIR = os.path.join(ROOT, "operators", "data", "vader")

SEED = 20240611
N_TEMPLATE = 3400
N_SALAD = 2400

try:
    from vaderSentiment import vaderSentiment as vs
except ImportError:  # pragma: no cover
    sys.exit("pip install vaderSentiment==3.3.2")

VADER_EXAMPLES = [
    "VADER is smart, handsome, and funny.",
    "VADER is smart, handsome, and funny!",
    "VADER is very smart, handsome, and funny.",
    "VADER is VERY SMART, handsome, and FUNNY.",
    "VADER is VERY SMART, handsome, and FUNNY!!!",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "The book was good.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today SUX!",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "Not bad at all",
    "Sentiment analysis has never been good.",
    "Sentiment analysis has never been this good!",
    "Most automated sentiment analysis tools are shit.",
    "With VADER, sentiment analysis is the shit!",
    "Other sentiment analysis tools can be quite bad.",
    "On the other hand, VADER is quite bad ass",
    "VADER is such a badass!",
    "Without a doubt, excellent idea.",
    "Roger Dodger is one of the most compelling variations on this theme.",
    "Roger Dodger is at least compelling as a variation on the theme.",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Not such a badass after all.",
    "Without a doubt, an excellent idea.",
    "I am 😄 today",
    "😊",
    "😥",
    "☹️",
    "",
    "   ",
    "!!!",
    "?? ??",
    "The food here is to die for",
    "yeah right, that was great",
    "That was the kiss of death for the project",
    "Meet me at the bus stop, it is lovely",
    "This party is the bomb!!",
    "She has a beating heart of gold",
]

SUBJECTS = ["The book", "VADER", "This phone", "The movie", "My internet", "The service",
            "Customer support", "The food", "She", "He", "It", "Today", "The plot", "This",
            "The engineer", "My broadband", "The app", "Your network", "The new router",
            "The staff", "Our holiday", "The weather", "The update", "That call", "The signal"]
VERBS = ["is", "was", "seems", "looks", "felt", "isn't", "wasn't", "is not", "was never",
         "never was", "ain't", "has been", "will be", "can be", "cannot be", "is really",
         "doesn't seem", "was hardly", "is no longer", "won't be", "isnt", "dont look"]
FUNCTION = ["the", "a", "and", "or", "nor", "of", "to", "in", "at", "it", "this", "that",
            "so", "very", "my", "your", "with", "for", "is", "was", "be", "just", "only",
            "least", "at least", "no", "not", "never", "without", "doubt", "kind", "but",
            "BUT", "though", "then", "really", "much", "all", "some", "too", "i", "you", "we"]
CONNECTORS = ["but", "and", "yet", "although", "though", "BUT", "But", "so", "because", "while"]
PUNCT_END = ["", ".", "!", "!!", "!!!", "!!!!!!", "?", "??", "???", "?????", "?!", "!?", "...",
             " !", " ?", ".", ".", "", ""]
EMOTICONS_EXTRA = [":)", ":(", ":D", ":P", ";)", ":-)", ":-(", "<3", "</3", ":/", ":'(", "XD",
                   "xD", ":-D", "=)", "(:", "):", ":|", ":o", "8-)", "^_^", "-_-", "o_O", "O_o"]
IDIOMS = ["the shit", "the bomb", "bad ass", "badass", "bus stop", "yeah right", "kiss of death",
          "to die for", "beating heart", "cut the mustard", "hand to mouth", "under the weather",
          "on the ball", "in the red", "break a leg", "without a doubt", "never so", "never this",
          "kind of", "sort of", "just enough", "at least", "very least", "no or", "not only"]
WEIRD_SPACES = ["\u00a0", "\t", "\u2009", "\u3000", "\n", "  ", "\u200b", "\u1680", "\x1c"]
TAILS = ["lol", "LOL", "smh", "ugh", "wtf", "haha", "#fail", "#winning", "@BTCare", "@EE",
         "http://t.co/abc123", "w/e", "xoxo", "meh", "yay", "FFS", "omg", "rofl", "!!", "<3"]


def load_lexicon_words():
    words, emoticons = [], []
    with open(os.path.join(LEXICON_DIR, "vader_lexicon.txt"), encoding="utf-8") as f:
        for line in f:
            w = line.split("\t")[0]
            if not w:
                continue
            (words if any(c.isalpha() for c in w) and w.isascii() and w.isalpha() else emoticons).append(w)
    emoji = []
    with open(os.path.join(LEXICON_DIR, "emoji_utf8_lexicon.txt"), encoding="utf-8") as f:
        for line in f:
            e = line.rstrip("\n").split("\t")[0]
            if e:
                emoji.append(e)
    return words, emoticons, emoji


def make_sentences():
    rng = random.Random(SEED)
    words, emoticons, emoji = load_lexicon_words()
    single_emoji = [e for e in emoji if len(e) == 1]
    boosters = list(vs.BOOSTER_DICT.keys())
    negate = list(vs.NEGATE)
    strong = list(words)  # all alphabetic lexicon words
    rng.shuffle(strong)
    extra_emoji = ["😡", "🤬", "🙄", "👍", "👎", "🤦‍♂️", "👍🏽", "🇬🇧", "❤️", "🥲", "🫠", "😂😂",
                   "🔥🔥🔥", "💔", "😭", "🙏", "✨"]

    def lexword():
        w = rng.choice(strong)
        r = rng.random()
        if r < 0.15:
            return w.upper()
        if r < 0.25:
            return w.capitalize()
        return w

    def booster():
        b = rng.choice(boosters)
        return b.upper() if rng.random() < 0.2 else b

    def deco(tok):
        r = rng.random()
        if r < 0.06:
            return tok + ","
        if r < 0.09:
            return '"' + tok + '"'
        if r < 0.11:
            return "#" + tok
        if r < 0.13:
            return "(" + tok + ")"
        if r < 0.15:
            return tok + "..."
        if r < 0.16:
            return "'" + tok
        return tok

    def emo():
        r = rng.random()
        if r < 0.4:
            return rng.choice(single_emoji)
        if r < 0.55:
            return rng.choice(extra_emoji)
        if r < 0.8:
            return rng.choice(emoticons)
        return rng.choice(EMOTICONS_EXTRA)

    def clause():
        parts = [rng.choice(SUBJECTS), rng.choice(VERBS)]
        r = rng.random()
        if r < 0.3:
            parts.append(booster())
        elif r < 0.4:
            parts += [booster(), booster()]
        elif r < 0.5:
            parts.append(rng.choice(negate))
        elif r < 0.55:
            parts += ["no", rng.choice(["or", "nor", "and"])]
        parts.append(lexword())
        if rng.random() < 0.35:
            parts += [rng.choice(["and", "or", "nor", ","]), lexword()]
        return " ".join(parts)

    templates = []

    def t_clauses():
        s = clause()
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            s += rng.choice([", ", " ", "; "]) + rng.choice(CONNECTORS) + " " + clause()
        return s + rng.choice(PUNCT_END)

    def t_idiom():
        idiom = rng.choice(IDIOMS)
        pre = " ".join(rng.choice(FUNCTION + [lexword()]) for _ in range(rng.randint(0, 4)))
        post = " ".join(rng.choice(FUNCTION + [lexword()]) for _ in range(rng.randint(0, 4)))
        return (pre + " " + idiom + " " + post).strip() + rng.choice(PUNCT_END)

    def t_emoji():
        toks = clause().split()
        for _ in range(rng.randint(1, 3)):
            pos = rng.randint(0, len(toks))
            e = emo()
            if rng.random() < 0.3 and toks:
                k = min(pos, len(toks) - 1)
                toks[k] = toks[k] + e  # glued, as in tweets
            else:
                toks.insert(pos, e)
        return " ".join(toks) + rng.choice(PUNCT_END)

    def t_caps():
        s = t_clauses()
        r = rng.random()
        if r < 0.3:
            return s.upper()
        toks = s.split()
        for k in range(len(toks)):
            if rng.random() < 0.3:
                toks[k] = toks[k].upper()
        return " ".join(toks)

    def t_tweet():
        s = t_clauses()
        if rng.random() < 0.5:
            s = rng.choice(TAILS) + " " + s
        if rng.random() < 0.7:
            s = s + " " + rng.choice(TAILS)
        if rng.random() < 0.3:
            s = s + " " + emo()
        return s

    def t_spaces():
        toks = t_clauses().split()
        out = toks[0] if toks else ""
        for t in toks[1:]:
            out += (rng.choice(WEIRD_SPACES) if rng.random() < 0.3 else " ") + t
        return rng.choice(["", " ", "\n"]) + out + rng.choice(["", " ", "\t"])

    def t_but_repeat():
        # Many equal valences around "but": exercises the list.index quirk.
        w = rng.choice(strong)
        n1, n2 = rng.randint(1, 4), rng.randint(1, 4)
        left = " ".join([w] * n1 + rng.sample(FUNCTION, 2))
        right = " ".join(rng.sample(FUNCTION, 2) + [w] * n2 + [lexword()])
        return left + " but " + right + rng.choice(PUNCT_END)

    gens = [(t_clauses, 30), (t_idiom, 12), (t_emoji, 18), (t_caps, 14), (t_tweet, 14),
            (t_spaces, 5), (t_but_repeat, 7)]
    pool = [g for g, w in gens for _ in range(w)]
    for _ in range(N_TEMPLATE):
        templates.append(rng.choice(pool)())

    salad_pool = FUNCTION * 3 + boosters + negate + list(vs.SPECIAL_CASES) + IDIOMS + TAILS
    salad = []
    for _ in range(N_SALAD):
        n = rng.randint(1, 30)
        toks = []
        for _ in range(n):
            r = rng.random()
            if r < 0.35:
                toks.append(deco(lexword()))
            elif r < 0.75:
                t = rng.choice(salad_pool)
                toks.append(deco(t.upper() if rng.random() < 0.15 else t))
            elif r < 0.85:
                toks.append(emo())
            elif r < 0.92:
                toks.append(rng.choice(["!", "?", "!!", "??", "...", "-", ",", "n't", "'s", ":", "&"]))
            else:
                toks.append(rng.choice(["don't", "DON'T", "can't", "won't", "isn't", "nothing",
                                        "least", "At", "very", "So", "THIS", "never", "Without",
                                        "doubt", "kind", "of", "Kind", "no", "No", "NO", "but"]))
        salad.append(" ".join(toks))

    # Realistic care mentions too (the telco labelled set's texts), when present.
    telco = []
    if os.path.exists(TELCO):
        with open(TELCO, encoding="utf-8") as f:
            telco = [json.loads(line)["text"] for line in f if line.strip()]
    out = list(VADER_EXAMPLES) + templates + salad + telco
    seen, uniq = set(), []
    for s in out:
        if s not in seen:
            seen.add(s)
            uniq.append(s)
    return uniq


def write_fixture(path):
    analyzer = vs.SentimentIntensityAnalyzer()
    sentences = make_sentences()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for s in sentences:
            r = analyzer.polarity_scores(s)
            f.write(json.dumps({"text": s, "compound": r["compound"], "pos": r["pos"],
                                "neu": r["neu"], "neg": r["neg"]}, ensure_ascii=False) + "\n")
    print(f"wrote {len(sentences)} sentences to {os.path.relpath(path, ROOT)}")


def bench_corpus():
    texts = []
    for path in (PARITY, TELCO):
        with open(path, encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in f if line.strip()]
    return texts


def bench(seconds):
    analyzer = vs.SentimentIntensityAnalyzer()
    texts = bench_corpus()
    for t in texts[:200]:
        analyzer.polarity_scores(t)  # warm up
    done, start = 0, time.perf_counter()
    while True:
        for t in texts:
            analyzer.polarity_scores(t)
        done += len(texts)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    chars = sum(len(t) for t in texts) / len(texts)
    print(f"python {sys.version.split()[0]} vaderSentiment 3.3.2: {done} texts in {elapsed:.2f} s "
          f"= {done / elapsed:,.0f} texts/s single core (corpus {len(texts)} texts, "
          f"mean {chars:.0f} chars)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", action="store_true", help="time the Python reference on the bench corpus")
    ap.add_argument("--seconds", type=float, default=5.0, help="minimum bench duration")
    ap.add_argument("--out", default=PARITY, help="fixture path")
    args = ap.parse_args()
    if args.bench:
        bench(args.seconds)
    else:
        write_fixture(args.out)


if __name__ == "__main__":
    main()
