#!/usr/bin/env bash
# The fonts the charts are drawn with (src/report/charts/render.ts), so a chart looks the same on
# every machine whatever fonts it has: DejaVu Sans and DejaVu Sans Bold from Debian's
# fonts-dejavu-core (2.37), cut down by fontTools' pyftsubset to the European scripts, digits,
# punctuation and the symbols charts use (U+2212 minus, ×, arrows), about a fifth of their size.
# DejaVu's licence (Bitstream Vera's, DejaVu's changes public domain) allows modified copies whose
# names contain neither "Bitstream" nor "Vera"; it travels beside them as LICENSE-DejaVu.txt.
# Regenerate: `apt-get install fonts-dejavu-core && bash scripts/make-chart-fonts.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
src=/usr/share/fonts/truetype/dejavu
out=assets/fonts
[ -f "$src/DejaVuSans.ttf" ] || { echo "make-chart-fonts: no $src/DejaVuSans.ttf; apt-get install fonts-dejavu-core" >&2; exit 1; }
venv=$(mktemp -d "${TMPDIR:-/tmp}/tunespec-fonttools-XXXXXX")
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q 'fonttools==4.55.3'
# Basic Latin through Latin Extended-B, Greek, Cyrillic, general punctuation, currency, letterlike
# symbols, number forms, arrows, mathematical operators.
unicodes='U+0020-007E,U+00A0-024F,U+0370-03FF,U+0400-04FF,U+2000-206F,U+20A0-20CF,U+2100-218F,U+2190-21FF,U+2200-22FF'
mkdir -p "$out"
for face in DejaVuSans DejaVuSans-Bold; do
  "$venv/bin/pyftsubset" "$src/$face.ttf" --unicodes="$unicodes" --layout-features='kern,liga' --no-hinting --desubroutinize \
    --name-IDs='*' --name-languages='*' --output-file="$out/$face.ttf"
done
cp /usr/share/doc/fonts-dejavu-core/copyright "$out/LICENSE-DejaVu.txt"
ls -l "$out"
