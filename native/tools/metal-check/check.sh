#!/usr/bin/env bash
# Syntax and declared-type check of the Metal backend on Linux (see README.md): every
# native/src/metal/*.m against mock Foundation/Metal headers, and every shader source string
# in them against a mock metal_stdlib. Installs clang (Debian) if it is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/../../src/metal"
if ! command -v clang >/dev/null; then
  sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
# The AArch64 C headers (the cross toolchain's) stand in for the SDK's libc: Apple Silicon is
# the target, so arm_neon.h paths of internal.h are the ones checked.
libc=/usr/aarch64-linux-gnu/include
[ -d "$libc" ] || { echo "metal-check: $libc missing (apt-get install libc6-dev-arm64-cross)"; exit 1; }
# Darwin clang predefines __nonnull (a nullability keyword) that glibc's headers also define.
objc=(clang -target arm64-apple-macos13 -U__nonnull -fsyntax-only -fobjc-arc -fblocks -Wall -Wextra
  -Werror -Werror=unguarded-availability-new -Werror=objc-method-access
  -isystem "$here/mock" -isystem "$libc")
msl=(clang++ -target arm64-apple-macos13 -std=c++14 -fsyntax-only -Wall -Wextra -Werror
  -Wno-unknown-attributes -Wno-unused-parameter -Wno-stdlibcxx-not-found -isystem "$here/mock/msl" -x c++)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0

# The mocks must bite: a wrong selector and an unguarded macOS 15 call have to be rejected.
printf '#import <Metal/Metal.h>\nvoid f(id<MTLBuffer> b) { [b setContents:0]; }\n' >"$out/bad1.m"
printf '#import <Metal/Metal.h>\nvoid f(id<MTLResidencySet> s) { [s commit]; }\n' >"$out/bad2.m"
for bad in "$out"/bad*.m; do
  if "${objc[@]}" "$bad" 2>/dev/null; then echo "metal-check: mock accepted $(basename "$bad")"; fail=1; fi
done

for m in "$src"/*.m; do
  echo "== $(basename "$m")"
  "${objc[@]}" "$m" || fail=1
  bun "$here/extract.ts" "$m" "$out" | sed 's/^/   /' || fail=1
done
for s in "$out"/*.metal; do
  [ -e "$s" ] || continue
  echo "== shader $(basename "$s")"
  "${msl[@]}" "$s" || fail=1
done
# Execute the kernels through the CPU emulation in run/ against libllmem's CPU paths, linked
# from the static archive: the runners compare against the trusted kernels (llmem_quantize,
# llmem_matvec, ...), which libllmem.so no longer exports (only the bounded *_checked ones).
# Kernel-scope threadgroup arrays become statics: the emulation runs one threadgroup at a time.
make -s -C "$here/../.." build/plain/libllmem.a >/dev/null
run_kernels() { # <harness name> <shader string name>
  echo "== run $1 kernels (CPU emulation)"
  sed -E 's/^(\s*)threadgroup (\w+ \w+\[[0-9]+\];)/\1static \2/' "$out/$2.metal" >"$out/$1_run.metal"
  clang++ -std=c++20 -O2 -fsigned-char -pthread -Wall -Wextra -Werror -Wno-unknown-attributes -Wno-unused-parameter \
    -isystem "$here/run" -I"$here/../../include" -DSHADER="\"$out/$1_run.metal\"" "$here/run/$1_run.cpp" \
    "$here/../../build/plain/libllmem.a" -lm -o "$out/$1_run" || return 1
  "$out/$1_run" | grep -v '^ok ' # the summary line and any FAIL lines
  return "${PIPESTATUS[0]}"
}
run_kernels paged kPagedSource || fail=1
run_kernels quant kQuantSource || fail=1

[ "$fail" = 0 ] && echo "metal-check: ok" || { echo "metal-check: FAILED"; exit 1; }
