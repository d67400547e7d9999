"""Build the sentiment text data sets from the vaderSentiment 3.3.2 source distribution (`npm run data:text`).

The sdist (MIT, C.J. Hutto) ships `additional_resources/hutto_ICWSM_2014.tar.gz`, the human-rated
sentences of Hutto & Gilbert, "VADER: A Parsimonious Rule-based Model for Sentiment Analysis of
Social Media Text", ICWSM 2014. Each `*_GroundTruth.txt` is tab-separated: id, mean rating (-4..+4),
text. This script writes one CSV per file with `text,label,score,id` columns, label = the sign of
the rating (`positive` / `negative`), neutral (zero) ratings dropped:

    data/text/vader/movie_reviews.csv   10,568 Rotten Tomatoes snippets (the training set)
    data/text/vader/tweets.csv, amazon_reviews.csv, nyt_editorials.csv   held-out sets for `evaluate`
    data/text/vader/movie_reviews_chat.jsonl   prompt/completion lines for generation (experiments/generation.yaml):
        {"prompt": "Review: <snippet>\nSentiment:", "completion": " positive"}, the first CHAT_PER_CLASS
        snippets of each label (in file order) no longer than CHAT_MAX_CHARS characters, interleaved

The download is pinned by sha256 and cached in .cache/text-data/; the outputs are git-ignored.
Usage: python3 scripts/make_text_data.py [OUT_DIR]
"""

import csv
import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
FILES = {
    "movieReviewSnippets_GroundTruth.txt": "movie_reviews.csv",
    "tweets_GroundTruth.txt": "tweets.csv",
    "amazonReviewSnippets_GroundTruth.txt": "amazon_reviews.csv",
    "nytEditorialSnippets_GroundTruth.txt": "nyt_editorials.csv",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_sdist(cache: Path) -> Path:
    target = cache / SDIST
    if target.exists() and sha256(target) == SDIST_SHA256:
        return target
    cache.mkdir(parents=True, exist_ok=True)
    print(f"==> pip download vaderSentiment==3.3.2 (source distribution) -> {cache}")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--timeout", "60", "-d", str(cache), "vaderSentiment==3.3.2"],
        check=True,
    )
    got = sha256(target)
    if got != SDIST_SHA256:
        target.unlink()
        sys.exit(f"{SDIST}: sha256 {got} is not the pinned {SDIST_SHA256}; refusing to use it")
    return target


def convert(raw: bytes, name: str, out: Path) -> tuple[int, int, int]:
    rows, dropped = [], 0
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            sys.exit(f"{name}:{number}: expected 3 tab-separated fields (id, score, text), found {len(parts)}")
        ident, score, text = parts
        value = float(score)
        if value == 0:
            dropped += 1
            continue
        rows.append((text.strip(), "positive" if value > 0 else "negative", score, ident))
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["text", "label", "score", "id"])
        writer.writerows(rows)
    if out.name == "movie_reviews.csv":
        chat = out.with_name("movie_reviews_chat.jsonl")
        print(f"{chat}: {chat_lines(rows, chat)} prompt/completion lines")
    positive = sum(1 for r in rows if r[1] == "positive")
    return positive, len(rows) - positive, dropped


# Enough examples for a LoRA sweep on SmolLM2-135M to learn the answer format in a few minutes on
# 2 cores; short snippets keep each rendered example (chat template included) near 60 tokens.
CHAT_PER_CLASS = 32
CHAT_MAX_CHARS = 90


def chat_lines(rows: list[tuple[str, str, str, str]], out: Path) -> int:
    """Prompt/completion JSONL from labelled snippets: balanced, short, in a stable order."""
    by_label = {"positive": [], "negative": []}
    for text, label, _score, _ident in rows:
        if len(text) <= CHAT_MAX_CHARS and len(by_label[label]) < CHAT_PER_CLASS:
            by_label[label].append(text)
    with out.open("w", encoding="utf-8") as f:
        for pos, neg in zip(by_label["positive"], by_label["negative"]):
            for text, label in ((pos, "positive"), (neg, "negative")):
                f.write(json.dumps({"prompt": f"Review: {text}\nSentiment:", "completion": f" {label}"}, ensure_ascii=False) + "\n")
    return 2 * min(len(v) for v in by_label.values())


def main() -> None:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "data" / "text" / "vader"
    sdist = fetch_sdist(ROOT / ".cache" / "text-data")
    with tarfile.open(sdist) as outer:
        inner_bytes = outer.extractfile(INNER).read()
        licence = outer.extractfile("vaderSentiment-3.3.2/LICENSE.txt").read()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "LICENSE-vaderSentiment.txt").write_bytes(licence)
    with tarfile.open(fileobj=io.BytesIO(inner_bytes)) as inner:
        for source, target in FILES.items():
            raw = inner.extractfile(f"hutto_ICWSM_2014/{source}").read()
            pos, neg, zero = convert(raw, source, out_dir / target)
            print(f"{out_dir / target}: {pos + neg} examples ({pos} positive, {neg} negative; {zero} neutral dropped)")


if __name__ == "__main__":
    main()
