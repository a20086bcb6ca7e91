/**
 * Extracts the Metal shader source strings of an Objective-C file (`static NSString *const
 * kName = @"..." "...";`) into <outdir>/<kName>.metal, checks their [[attribute]] names
 * against the MSL specification's list, and prints each kernel's [[buffer(n)]] indices (which
 * must be 0..n-1) for comparison with the host's setBuffer/setBytes indices.
 * Usage: bun extract.ts <file.m> <outdir>; exits 1 on a finding.
 */
import { readFileSync, writeFileSync } from "node:fs";

const ATTRIBUTES = new Set([
  "buffer",
  "threadgroup",
  "thread_position_in_grid",
  "threadgroup_position_in_grid",
  "thread_position_in_threadgroup",
  "thread_index_in_threadgroup",
  "thread_index_in_simdgroup",
  "simdgroup_index_in_threadgroup",
  "threads_per_threadgroup",
  "threads_per_simdgroup",
  "simdgroups_per_threadgroup",
  "threadgroups_per_grid",
  "threads_per_grid",
  "function_constant",
]);
const LITERAL = /"(?:[^"\\]|\\.)*"/g;

const [src, outdir] = process.argv.slice(2);
if (!src || !outdir) throw new Error("usage: bun extract.ts <file.m> <outdir>");
const text = readFileSync(src, "utf8");
let bad = false;
for (const m of text.matchAll(/NSString\s*\*\s*const\s+(\w+)\s*=\s*@((?:\s*"(?:[^"\\]|\\.)*")+)\s*;/g)) {
  const name = m[1]!;
  // The sources use only \n, \" and \\, which C and JSON spell alike (anything else throws).
  const code = (m[2]!.match(LITERAL) ?? []).map((s) => JSON.parse(s) as string).join("");
  const path = `${outdir}/${name}.metal`;
  writeFileSync(path, code);
  for (const a of code.matchAll(/\[\[\s*(\w+)/g)) {
    if (!ATTRIBUTES.has(a[1]!)) {
      console.log(`${src}: ${name}: unknown MSL attribute [[${a[1]}]]`);
      bad = true;
    }
  }
  for (const k of code.matchAll(/kernel\s+void\s+(\w+)\s*\(([^{]*)\)\s*\{/g)) {
    const idx = [...k[2]!.matchAll(/\[\[\s*buffer\((\d+)\)\s*\]\]/g)].map((b) => Number(b[1]));
    if ([...idx].sort((x, y) => x - y).some((v, i) => v !== i)) {
      console.log(`${src}: ${k[1]}: buffer indices [${idx}] are not 0..${idx.length - 1}`);
      bad = true;
    }
    console.log(`   kernel ${k[1]}: buffers [${idx.join(", ")}]`);
  }
  console.log(path);
}
process.exit(bad ? 1 : 0);
