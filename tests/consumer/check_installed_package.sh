#!/usr/bin/env bash
# Installs the built package into a scratch prefix, builds tests/consumer against it with
# find_package(actionclip), and runs the README's library example on the fixtures, as a user
# would: model "ViT-B-32.pt" (the tiny CLIP archive) and "clip.mp4" (the H.264 fixture) in the
# working folder, the tokenizer from the installed share/actionclip.
# Usage: check_installed_package.sh BUILD_DIR SOURCE_DIR CXX_COMPILER [PREFIX_PATH] [CXX_FLAGS]
# Exit 77 (skipped) when the fixtures are absent or the build was not given the tokenizer.
set -euo pipefail
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd) compiler=$3 prefix_path=${4:-} cxx_flags=${5:-}
fixtures=${ACTIONCLIP_FIXTURES:-$source/../shared/fixtures}
fixtures=$(cd "$fixtures" 2>/dev/null && pwd || echo "$fixtures")
if [ ! -e "$fixtures/reference/clip-tiny-jit.pt" ] || [ ! -e "$fixtures/video/clip_h264.mp4" ]; then
  echo "skipped: fixtures not found at $fixtures (set ACTIONCLIP_FIXTURES)"
  exit 77
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/actionclip_consumer.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
prefix=$scratch/prefix

cmake --install "$build" --prefix "$prefix" > "$scratch/install.log"
# The installed CLI uses the built-in model it installed, not the source tree's.
demo=$(env -u ACTIONCLIP_BPE "$prefix/bin/actionclip" demo --out "$scratch/demo")
grep -qF "built-in model ($prefix/share/actionclip/actionclip-synth.safetensors)" <<<"$demo" ||
  { echo "the installed demo did not use the installed built-in model:"; echo "$demo"; exit 1; }
bpe=$(find "$prefix" -path '*/share/actionclip/bpe_simple_vocab_16e6.txt.gz' | head -n 1)
if [ -z "$bpe" ]; then
  echo "skipped: the build was configured without ACTIONCLIP_BPE_FILE, so the install has no tokenizer"
  exit 77
fi

cmake -S "$source/tests/consumer" -B "$scratch/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$compiler" -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_PREFIX_PATH="$prefix${prefix_path:+;$prefix_path}" -DACTIONCLIP_README="$source/README.md" \
  > "$scratch/configure.log" || { cat "$scratch/configure.log"; exit 1; }
cmake --build "$scratch/build" > "$scratch/build.log" 2>&1 || { cat "$scratch/build.log"; exit 1; }

mkdir "$scratch/run"
cd "$scratch/run"
ln -s "$fixtures/reference/clip-tiny-jit.pt" ViT-B-32.pt
ln -s "$fixtures/video/clip_h264.mp4" clip.mp4
output=$(env -u ACTIONCLIP_BPE ASAN_OPTIONS=detect_leaks=0 "$scratch/build/readme_example")
echo "$output"
# One probability per label of the example, each in [0, 1], summing to 1.
echo "$output" | awk '
  $1 == "probabilities" {
    found = 1; sum = 0
    for (i = 2; i <= NF; ++i) { if ($i < 0 || $i > 1) bad = 1; sum += $i }
    if (NF < 3) { print "expected a probability per label, got " NF - 1; exit 1 }
    if (bad) { print "a probability outside [0, 1]"; exit 1 }
    if (sum < 1 - 1e-4 || sum > 1 + 1e-4) { print "probabilities sum to " sum; exit 1 }
  }
  END { if (!found) { print "no probabilities printed"; exit 1 } }'
echo "installed package: README library example ran, probabilities sum to 1"
