#!/usr/bin/env bash
# Retrains the built-in model (models/builtin/actionclip-synth.safetensors) from a seed and
# prints how it scores. Every step is seeded, so the same build gives the same file.
#
#   1. synth: coloured shapes moving in words ("a blue circle moving up"), 32x32, 8 frames,
#      40 clips per combination (30 to train, 10 to validate).
#   2. The combinations are split: a quarter of them (colour + shape + motion = 0 mod 4, so
#      every colour, shape and motion is still seen in others) are held out of training.
#   3. train: models/builtin/train.yaml, the contrastive objective, on the seen combinations.
#   4. convert: fp16, labels and templates stored, the vocabulary cut to the words used.
#   5. eval: seen combinations (their validation videos), held-out combinations zero-shot.
#
# Usage: scripts/train_builtin_model.sh [work-dir]
# env: ACTIONCLIP (the binary, default build/actionclip), ACTIONCLIP_BPE (CLIP's tokenizer,
#      default ../shared/data/clip/bpe_simple_vocab_16e6.txt.gz), BUILTIN_OUT (the model file).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-${TMPDIR:-/tmp}/actionclip_builtin_model}"
actionclip="${ACTIONCLIP:-$here/build/actionclip}"
export ACTIONCLIP_BPE="${ACTIONCLIP_BPE:-$here/../shared/data/clip/bpe_simple_vocab_16e6.txt.gz}"
out="${BUILTIN_OUT:-$here/models/builtin/actionclip-synth.safetensors}"
[ -x "$actionclip" ] || { echo "train_builtin_model: $actionclip not built (scripts/setup.sh)" >&2; exit 1; }
[ -f "$ACTIONCLIP_BPE" ] || {
  echo "train_builtin_model: CLIP's tokenizer $ACTIONCLIP_BPE not found (set ACTIONCLIP_BPE)" >&2; exit 1; }

colors=red,green,blue,yellow
shapes=square,circle,triangle
motions=left,up,clockwise,growing
rm -rf "$work"
mkdir -p "$work"
cp "$here/models/builtin/train.yaml" "$here/models/builtin/templates.txt" "$work/"

"$actionclip" synth --out "$work/data" -n 40 --frames 8 --width 32 --height 32 --seed 11 \
  --val-fraction 0.25 --colors "$colors" --shapes "$shapes" --motions "$motions" >/dev/null 2>&1

# Class ids run colour-major, then shape, then motion (synth's canonical order), so an id's
# digits in base (shapes, motions) are its combination. Each split gets its own label file;
# heldout_all_labels.txt keeps the ids of labels.csv, to score held-out clips among all labels.
count() { tr , '\n' <<<"$1" | wc -l; }
awk -v dir="$work/data" -v ns="$(count "$shapes")" -v nm="$(count "$motions")" '
  function held_out(id) { return (int(id / (ns * nm)) + int(id / nm) % ns + id % nm) % 4 == 0 }
  BEGIN { print "id,name" > (dir "/seen_labels.csv"); print "id,name" > (dir "/heldout_labels.csv") }
  FILENAME ~ /labels.csv$/ {
    if (FNR == 1) next
    comma = index($0, ","); id = substr($0, 1, comma - 1)
    if (held_out(id)) { renumbered[id] = held++; file = "/heldout_labels.csv" }
    else { renumbered[id] = seen++; file = "/seen_labels.csv" }
    print renumbered[id] "," substr($0, comma + 1) > (dir file)
    next
  }
  { split_name = FILENAME ~ /train.txt$/ ? "/seen_train.txt" : "/seen_val.txt"
    print $1, renumbered[$2] > (dir (held_out($2) ? "/heldout.txt" : split_name))
    if (held_out($2)) print $1, $2 > (dir "/heldout_all_labels.txt") }
' "$work/data/labels.csv" "$work/data/train.txt" "$work/data/val.txt"

start=$(date +%s)
(cd "$work" && "$actionclip" train --config train.yaml --quiet)
echo "train_builtin_model: trained in $(( $(date +%s) - start )) s"
# The card the model carries (builtin_model.h): what it saw, which labels it never trained on.
json_list() { awk -F, 'FNR > 1 { printf "%s\"%s\"", n++ ? ", " : "", substr($0, index($0, ",") + 1) }' "$1"; }
json_words() { tr , '\n' <<<"$1" | awk '{ printf "%s\"%s\"", n++ ? ", " : "", $0 }'; }
n_seen=$(( $(wc -l <"$work/data/seen_labels.csv") - 1 ))
n_held=$(( $(wc -l <"$work/data/heldout_labels.csv") - 1 ))
card() {  # scores JSON
  cat <<JSON
{"builtin": {
  "trained_on": "synthetic 32x32 clips of coloured shapes moving, $n_seen of $((n_seen + n_held)) colour/shape/motion combinations (scripts/train_builtin_model.sh)",
  "colors": [$(json_words "$colors")], "shapes": [$(json_words "$shapes")], "motions": [$(json_words "$motions")],
  "frames": 8, "frame_size": 32,
  "held_out": [$(json_list "$work/data/heldout_labels.csv")],
  "scores": $1}}
JSON
}
convert() {  # card file
  "$actionclip" convert "$work/run/best.safetensors" "$out" --labels-file "$work/data/labels.csv" \
    --templates "$work/templates.txt" --compact-vocabulary --fp16 --metadata "$1" 2>/dev/null
}
card '{}' >"$work/card.json"
convert "$work/card.json"

top1() {  # list, labels: top-1 of the converted model, in percent
  "$actionclip" eval -m "$out" --list "$1" --labels-file "$2" --json -q 2>/dev/null |
    sed -n 's/.*"top1": *\([0-9.e-]*\).*/\1/p' | awk '{ printf "%.1f", 100 * $1 }'
}
chance() { awk -v n="$1" 'BEGIN { printf "%.1f", 100 / n }'; }
seen_top1=$(top1 "$work/data/seen_val.txt" "$work/data/seen_labels.csv")
held_top1=$(top1 "$work/data/heldout.txt" "$work/data/heldout_labels.csv")
held_among_all=$(top1 "$work/data/heldout_all_labels.txt" "$work/data/labels.csv")
card "{\"seen_top1\": $seen_top1, \"seen_chance\": $(chance "$n_seen"), \"held_out_top1\": $held_top1, \"held_out_chance\": $(chance "$n_held"), \"held_out_among_all_top1\": $held_among_all, \"all_chance\": $(chance $((n_seen + n_held)))}" >"$work/card.json"
convert "$work/card.json"

echo "wrote $out ($(du -k "$out" | cut -f1) kB)"
echo "seen combinations, their validation clips ($n_seen labels): top-1 $seen_top1%, chance $(chance "$n_seen")%"
echo "held-out combinations, zero-shot ($n_held labels):          top-1 $held_top1%, chance $(chance "$n_held")%"
echo "held-out combinations among all $((n_seen + n_held)) labels:          top-1 $held_among_all%, chance $(chance $((n_seen + n_held)))%"
