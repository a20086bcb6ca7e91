/**
 * Per-token log-probabilities for `--logprobs N`: log-softmax of the raw logits (the model's
 * distribution, before temperature and top-p), the chosen token's value and the N most
 * likely tokens, best first (ties: lower id first).
 */
export interface Alternative {
  id: number;
  logprob: number;
}

export interface TokenLogprob extends Alternative {
  top: Alternative[];
}

/** log Σ exp(logits), summed in double around the maximum. */
function logSumExp(logits: Float32Array): number {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

/** The ids of the n largest logits, best first; one pass keeping a sorted list of n. */
function topIds(logits: Float32Array, n: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (top.length === n && v <= logits[top[n - 1]!]!) continue;
    let at = top.length;
    while (at > 0 && v > logits[top[at - 1]!]!) at--;
    top.splice(at, 0, i);
    if (top.length > n) top.pop();
  }
  return top;
}

/** The chosen token's log-probability and the n most likely tokens under `logits`. */
export function tokenLogprob(logits: Float32Array, n: number, chosen: number): TokenLogprob {
  const z = logSumExp(logits);
  const top = topIds(logits, Math.min(n, logits.length)).map((id) => ({ id, logprob: logits[id]! - z }));
  return { id: chosen, logprob: logits[chosen]! - z, top };
}
