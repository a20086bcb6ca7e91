#!/bin/sh
# NEON per-row vs multi-row kernels under qemu (bench.c): executed guest instructions per mode
# (qemu's exec log, count.py) and wall time inside qemu, for the plain ARMv8.0 build and the
# ARMv8.2+dotprod build. An estimate for code review, NOT a measurement of Apple Silicon or any
# real AArch64 CPU: qemu runs each NEON instruction through a helper, so its wall time weighs
# them very differently from hardware. Dev tool; not part of CI.
#   [ROUNDS=7] native/tools/neon-rows/run.sh [FORMAT ROWS COLS TOKENS] [NATIVE_DIR]
# ROUNDS: interleaved wall-time rounds (0: instruction counts only; the exec log makes each
# count run ~10x slower than the program).
# NATIVE_DIR (default this tree's native/) may be another checkout's native/, e.g. the commit
# before the NEON kernels, to count what its per-row path executed.
set -e
here=$(cd "$(dirname "$0")" && pwd)
fmt=${1:-q8_0} rows=${2:-768} cols=${3:-288} n=${4:-128}
native=$(cd "${5:-$here/../..}" && pwd)
for march in armv8-a armv8.2-a+dotprod; do
  bin=/tmp/llmem-neon-rows-$march
  # shellcheck disable=SC2046
  aarch64-linux-gnu-gcc -march=$march -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O3 -fno-math-errno \
    -fno-trapping-math -static -I"$native/include" -I"$native/src" $(ls "$native"/src/*.c "$native"/src/*/*.c) \
    "$here/bench.c" -pthread -lm -o "$bin"
  count() { qemu-aarch64 -cpu max -d in_asm,exec,nochain -D /dev/stdout "$bin" "$1" "$fmt" "$rows" "$cols" "$n" 1 | python3 "$here/count.py"; }
  base=$(count none)
  echo "$march: $fmt ${rows}x$cols, $n tokens: executed guest instructions (setup subtracted)"
  for mode in rows tiled mv-rows mv-tiled; do
    echo "  $mode $(($(count $mode) - base))"
  done
  [ "${ROUNDS:-7}" = 0 ] || qemu-aarch64 -cpu max "$bin" time "$fmt" "$rows" "$cols" "$n" "${ROUNDS:-7}"
done
