"""Executed guest instructions from a qemu "-d in_asm,exec,nochain" log on stdin: each translated
block's instruction count (its IN: listing, keyed by guest pc) times its executions (Trace lines;
nochain makes qemu log every execution)."""
import sys

size, execs, pc, n = {}, {}, None, 0
for line in sys.stdin:
    if line.startswith("Trace"):
        key = int(line.split("[", 1)[1].split("/")[1], 16)
        execs[key] = execs.get(key, 0) + 1
    elif line.startswith("IN:"):
        pc, n = None, 0
    elif line.startswith("0x") and ":" in line:
        if pc is None:
            pc = int(line.split(":", 1)[0], 16)
        n += 1
        size[pc] = n
print(sum(size.get(k, 0) * v for k, v in execs.items()))
