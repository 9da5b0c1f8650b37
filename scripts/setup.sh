#!/usr/bin/env bash
# Installs every dependency from Debian's archive (when missing) and builds actionclip.
# Usage: scripts/setup.sh [build-dir]   (env: ACTIONCLIP_BUILD_TYPE, ACTIONCLIP_CMAKE_ARGS)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"

packages=(build-essential cmake pkg-config
  libtorch-dev libopenblas0-pthread
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
  nlohmann-json3-dev libcli11-dev libyaml-cpp-dev libutf8proc-dev zlib1g-dev libgtest-dev
  libgoogle-perftools-dev libcpuinfo-dev
  libdnnl-dev  # int8 inference calls oneDNN's int8 product directly
  libgloo-dev  # the headers of c10d's Gloo process group (data-parallel training)
  python3-torch  # torchrun for the distributed launch test; the benchmarks' Python reference figures
  python3-av python3-torchvision  # bench video's Python reference pipeline (PyAV + torchvision + torch)
  libcurl4-openssl-dev libssl-dev libcpp-httplib-dev  # model downloads; the tests' loopback mirror
  curl chromium  # serve's tests: a real HTTP client, and the web page in headless Chromium
  ffmpeg)  # the CLI makes test videos of codecs the tests cannot ship
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# serve's client tests run OpenAI's SDK and playwright-core from npm, pinned by tests/node's lock
# (Node.js from Debian when absent); without them those tests are skipped, saying so.
if ! command -v npm >/dev/null; then
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends nodejs npm || true
fi
if command -v npm >/dev/null; then
  npm ci --prefix "$here/tests/node" --no-audit --no-fund --silent || echo "setup: npm ci failed; serve's client tests will be skipped"
fi

cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE="${ACTIONCLIP_BUILD_TYPE:-Release}" ${ACTIONCLIP_CMAKE_ARGS:-}
cmake --build "$build" -j"$(nproc)"
echo "setup: built $build/actionclip"
