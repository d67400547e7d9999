"""Write test/fixtures/text/reviews-64.csv: 64 short labelled reviews for the tiny BERT's CLI tests.

Made from word lists (most in the tiny tokenizer's vocabulary) with a fixed seed, so the file is
reproducible: `python3 scripts/make_text_reviews.py`. Positive reviews use good/wonderful/nice,
negative ones bad/hated/not, so a two-block encoder can learn the task in a few epochs.
"""
import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'text' / 'reviews-64.csv'
POS = ['good', 'wonderful', 'nice', 'quite good', 'absolutely wonderful', 'well filmed']
NEG = ['bad', 'hated', 'not good', 'overcomplicated', 'unbelievably bad', 'not nice']
SUBJECTS = ['the film', 'this movie', 'the musical', 'the day', 'the weather', 'the room', 'every minute', 'the details']
TAILS = ['', ' today', ' again', ' at the market', ' in paris', ' for the dog', ' all day']


def main() -> None:
    rng = random.Random(7)
    rows = []
    for i in range(64):
        label = 'pos' if i % 2 == 0 else 'neg'
        word = rng.choice(POS if label == 'pos' else NEG)
        text = f'{rng.choice(SUBJECTS)} was {word}{rng.choice(TAILS)}.'
        rows.append((text[0].upper() + text[1:], label))
    with OUT.open('w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(['text', 'label'])
        w.writerows(rows)


if __name__ == '__main__':
    main()
