#!/bin/sh
# Builds and runs bench.c against libllmem (native/build) and ggml's CPU backend from a
# llama.cpp build (argument 1, default /tmp/llama.cpp/build/bin). Dev tool; not part of CI.
set -e
here=$(cd "$(dirname "$0")" && pwd)
native=$(cd "$here/../.." && pwd)
bin=${1:-/tmp/llama.cpp/build/bin}
make -s -C "$native" >/dev/null
cc -O2 -o /tmp/llmem-vs-ggml "$here/bench.c" -I"$native/include" -L"$native/build/lib" -lllmem -ldl -lm \
  -Wl,-rpath,"$native/build/lib" -Wl,-rpath,"$bin"
exec /tmp/llmem-vs-ggml "$bin"
