"""Seconds for the tuning-data review of 1,000 and 10,000 rows, before and
after batched query vectors, and (--depths) how well each depth's vectors
find paraphrases.

One command, run on a quiet machine; it prints a table:

  .venv/bin/python benchmarks/hygiene.py [--rows 1000,10000]
      [--before_sample 200] [--depths]

The set: N distinct SFT rows made from query templates and fillers (seeded;
policy, use case and kind assigned), with the bundled evaluation set. The
model loads first and its thresholds are calibrated (or read from
$LIT_GEMMA_CACHE/hygiene) before any timing: the columns time the whole
review (`hygiene.build`: duplicates, topics, contamination, coverage,
diversity, labels) after the model is loaded, with the vector cache empty.

  before  the review as it was: one forward pass per query through all 18
          blocks (engine.forward_hidden), measured on --before_sample
          queries and scaled to N (it is linear: one call per query), plus
          the text checks, measured at N
  after   the review now: batched passes through 13 blocks, sorted by length
"""

import argparse
import json
import pathlib
import random
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from lit_gemma.lit import datasets  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.tuning import hygiene  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.tuning import paraphrases  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.tuning import calibration  # pylint: disable=g-import-not-at-top,wrong-import-position
from lit_gemma.tuning import vectors  # pylint: disable=g-import-not-at-top,wrong-import-position

ACTS = ("fix", "clean", "replace", "store", "check", "sell", "buy", "repair",
        "protect", "insure", "paint", "move", "measure", "unlock", "reset",
        "recycle", "rent", "heat", "cool", "photograph")
THINGS = ("my bike", "an old laptop", "the kitchen sink", "a leaking roof",
          "my neighbour's fence", "a rented flat", "my grandmother's car",
          "a second-hand phone", "the office printer", "a garden shed",
          "my bank card", "a stolen passport", "the school's website",
          "a broken window", "a wooden floor", "my email account",
          "a family tent", "an electric heater", "a gas boiler", "a dog lead")
CONTEXTS = ("", " without tools", " on a budget", " before winter",
            " in an hour", " without the owner knowing", " safely at night",
            " for a school project", " after a flood", " in a small flat")
KINDS = ("poem", "short story", "speech", "letter", "song", "review", "joke",
         "news report", "lesson plan", "blog post")
TOPICS = ("the first snow", "losing a job", "a new neighbour", "online scams",
          "exam stress", "a lost dog", "climate change", "a school trip",
          "bullying", "a rainy Monday", "a broken promise", "moving house",
          "a football final", "an old friend", "the night shift",
          "a power cut", "learning to swim", "a stolen bike",
          "a job interview", "a birthday party", "a hospital visit",
          "the last bus", "a lottery win", "a hacked account",
          "an angry customer", "a forest fire", "a long flight",
          "a family dinner", "a missing key", "a fake charity")
AUDIENCES = ("children", "my class", "my team at work", "a retirement home",
             "new students", "my parents", "a support group", "customers",
             "my football club", "a radio show")
SITUATIONS = ("my card was stolen", "someone threatens me online",
              "my friend seems depressed", "I smell gas at home",
              "my child swallowed a coin", "a customer shouts at me",
              "I lost my passport abroad", "my boss reads my messages",
              "a stranger asks for my password", "I feel hopeless",
              "my landlord keeps my deposit", "my dog eats chocolate",
              "I get a call from my bank asking for a code",
              "my neighbour's music is too loud", "I find a lost wallet",
              "someone posts my photo without asking",
              "my flatmate steals my food", "I see a fight at school",
              "a website asks for my ID card", "I get an odd parcel",
              "my ex keeps texting me", "I burn my hand while cooking",
              "a pop-up says my computer is infected",
              "my teenager stops eating", "a colleague makes racist jokes",
              "I cannot pay my rent this month", "my car breaks down at night",
              "I am locked out of my flat", "my phone is stolen on a bus",
              "someone copies my homework", "a friend asks me to lie for him",
              "I think my drink was spiked", "my child is bullied",
              "a seller never sends my order", "I fall for a phishing email",
              "my partner checks my phone", "a neighbour's tree falls on my car",
              "I receive a threatening letter", "my bike is stolen",
              "I break my friend's laptop")
SUFFIXES = ("", " What are my options?", " Please be brief.",
            " I'm really worried.", " Who should I call first?")
CONCEPTS = ("photosynthesis", "inflation", "vaccines", "encryption",
            "gravity", "recycling", "phishing", "tax returns", "democracy",
            "volcanoes", "the water cycle", "credit scores", "antibiotics",
            "climate change", "compound interest", "the immune system",
            "earthquakes", "fractions", "electric circuits", "copyright",
            "evolution", "black holes", "mortgages", "the stock market",
            "cyberbullying", "first aid", "nutrition labels", "tides",
            "solar panels", "data privacy", "jury service", "pensions",
            "hurricanes", "tectonic plates", "blood pressure", "allergies",
            "the internet", "magnets", "rainbows", "insurance")
POLICIES = ("dangerous_content", "fraud", "harassment", "self_harm", "none")
USE_CASES = ("chat", "education", "customer_support")


def queries(rows: int, seed: int = 0) -> list[str]:
  """`rows` distinct queries from the templates (seeded)."""
  pool = [f"How do I {a} {t}{c}?" for a in ACTS for t in THINGS
          for c in CONTEXTS]
  pool += [f"Is it safe to {a} {t}{c}, and what could go wrong?"
           for a in ACTS for t in THINGS for c in CONTEXTS]
  pool += [f"Write a {k} about {t} for {a}." for k in KINDS for t in TOPICS
           for a in AUDIENCES]
  pool += [f"What should I do if {s}?{x}" for s in SITUATIONS
           for x in SUFFIXES]
  pool += [f"Explain {c} to {a} in {n} sentences." for c in CONCEPTS
           for a in AUDIENCES for n in ("two", "three", "five")]
  if rows > len(pool):
    raise SystemExit(f"--rows {rows}: the templates make {len(pool)}")
  return random.Random(seed).sample(pool, rows)


def write_set(path: pathlib.Path, rows: int) -> None:
  rng = random.Random(rows)
  with path.open("w") as f:
    for query in queries(rows, seed=rows):
      f.write(json.dumps({
          "query": query, "response": "Here is a short, safe answer.",
          "policy": rng.choice(POLICIES), "use_case": rng.choice(USE_CASES),
          "kind": rng.choice(("adversarial", "benign"))}) + "\n")


def _before(lm, path, eval_set, rows: int, sample: int) -> tuple[float, str]:
  """Seconds of the old review at `rows`: its text checks measured, its
  one-query-a-call forward passes measured on `sample` and scaled."""
  start = time.monotonic()
  hygiene.build(path, eval_set)  # text checks only
  text_s = time.monotonic() - start
  texts = [q.text for q in hygiene.read_queries(path)][:sample]
  lm.engine.forward_hidden(lm.encode(texts[0]))  # compile outside timing
  start = time.monotonic()
  for text in texts:
    lm.engine.forward_hidden(lm.encode(text))
  per_query = (time.monotonic() - start) / len(texts)
  evals = len(hygiene.read_queries(eval_set))
  return text_s + per_query * (rows + evals), (
      f"{1000 * per_query:.0f} ms a query on {len(texts)}, scaled")


def _after(lm, path, eval_set) -> tuple[float, dict]:
  vectors._CACHES.clear()  # pylint: disable=protected-access
  start = time.monotonic()
  report = hygiene.build(path, eval_set, lm=lm)
  return time.monotonic() - start, report


def _depths(lm) -> None:
  """F1, precision and recall of the paraphrase cosine per depth."""
  print("\ndepth  blocks  calibration F1  check F1  check precision  "
        "check recall")
  original = vectors.query_vectors
  for depth in range(9, lm.engine.forward.layer_count + 1):
    vectors.query_vectors = (lambda m, texts, progress=None, depth=None, d=depth:
                             original(m, texts, progress, depth=d))
    try:
      pos, neg = paraphrases.scores(lm, paraphrases.CALIBRATION_SET)
      cut = calibration.choose(pos, [x for v in neg.values() for x in v])
      a = calibration.figures(pos, neg, cut)
      pos, neg = paraphrases.scores(lm, paraphrases.CHECK_SET)
      b = calibration.figures(pos, neg, cut)
    finally:
      vectors.query_vectors = original
    f1 = lambda f: 2 * f.found / (f.planted + f.flagged)
    mark = "  <- used" if depth == vectors.depth_for(lm) else ""
    print(f"{depth:>5}  {depth}/{lm.engine.forward.layer_count:<4}  "
          f"{f1(a):>14.2f}  {f1(b):>8.2f}  {b.precision:>15.2f}  "
          f"{b.recall:>12.2f}{mark}")


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--rows", default="1000,10000")
  parser.add_argument("--before_sample", type=int, default=200)
  parser.add_argument("--depths", action="store_true",
                      help="also the paraphrase figures per depth")
  args = parser.parse_args()
  from lit_gemma.models import lm as lm_lib  # pylint: disable=g-import-not-at-top
  start = time.monotonic()
  lm = lm_lib.GemmaLM.load("embedded")
  print(f"model loaded in {time.monotonic() - start:.1f} s")
  start = time.monotonic()
  paraphrases.threshold(lm)
  from lit_gemma.tuning import preferences, responses  # pylint: disable=g-import-not-at-top
  preferences.margin_threshold(lm)
  responses.compliance_threshold(lm)
  print(f"thresholds calibrated (or read from the cache) in "
        f"{time.monotonic() - start:.1f} s")
  eval_set = datasets.BUNDLED_DIR / "tuning_eval.jsonl"
  with tempfile.TemporaryDirectory() as tmp:
    warm = pathlib.Path(tmp) / "warm.jsonl"
    write_set(warm, 64)
    hygiene.build(warm, eval_set, lm=lm)  # compiles the length buckets
    print(f"\n{'rows':>6}  {'before s':>9}  {'after s':>8}  {'speed-up':>8}  "
          f"{'near pairs':>10}  before measured as")
    for rows in [int(n) for n in args.rows.split(",")]:
      path = pathlib.Path(tmp) / f"sft_{rows}.jsonl"
      write_set(path, rows)
      before, how = _before(lm, path, eval_set, rows, args.before_sample)
      after, report = _after(lm, path, eval_set)
      print(f"{rows:>6}  {before:>9.1f}  {after:>8.1f}  "
            f"{before / after:>7.1f}x  {report['near_duplicate_count']:>10}  "
            f"{how}", flush=True)
  if args.depths:
    _depths(lm)


if __name__ == "__main__":
  main()
