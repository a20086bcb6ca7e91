"""Extracts the Metal shader source strings of an Objective-C file (static NSString *const
kName = @"..." "..."; string literal concatenations), checks their [[attribute]] names
against the MSL specification's list and prints, per kernel, its [[buffer(n)]] indices so
they can be compared with the host's setBuffer/setBytes indices."""
import ast
import re
import sys

ATTRIBUTES = {
    "buffer", "threadgroup", "thread_position_in_grid", "threadgroup_position_in_grid",
    "thread_position_in_threadgroup", "thread_index_in_threadgroup", "thread_index_in_simdgroup",
    "simdgroup_index_in_threadgroup", "threads_per_threadgroup", "threads_per_simdgroup",
    "simdgroups_per_threadgroup", "threadgroups_per_grid", "threads_per_grid", "function_constant",
}

def shaders(text):
    for m in re.finditer(r"NSString\s*\*\s*const\s+(\w+)\s*=\s*@((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*;", text):
        yield m.group(1), "".join(ast.literal_eval(s) for s in re.findall(r"\"(?:[^\"\\]|\\.)*\"", m.group(2)))

def main(src, outdir):
    bad = 0
    text = open(src, encoding="utf-8").read()
    for name, code in shaders(text):
        path = f"{outdir}/{name}.metal"
        open(path, "w", encoding="utf-8").write(code)
        for attr in re.findall(r"\[\[\s*(\w+)", code):
            if attr not in ATTRIBUTES:
                print(f"{src}: {name}: unknown MSL attribute [[{attr}]]")
                bad = 1
        for k in re.finditer(r"kernel\s+void\s+(\w+)\s*\(([^{]*)\)\s*\{", code):
            idx = [int(i) for i in re.findall(r"\[\[\s*buffer\((\d+)\)\s*\]\]", k.group(2))]
            if sorted(idx) != list(range(len(idx))):
                print(f"{src}: {k.group(1)}: buffer indices {idx} are not 0..{len(idx) - 1}")
                bad = 1
            print(f"   kernel {k.group(1)}: buffers {idx}")
        print(path)
    return bad

if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
