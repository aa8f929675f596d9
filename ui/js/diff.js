// A line diff (longest common subsequence) shown as a unified diff, for history (any two
// versions) and the stale-edit view (what someone else changed).
import { h } from "./dom.js";

/** diffLines(a, b) → [{op: " " | "-" | "+", text}] for the lines of a and b. Quadratic in
 * the lines that differ after the common head and tail are cut off (configs: fine). */
export function diffLines(aText, bText) {
  const a = aText.split("\n");
  const b = bText.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head += 1;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head &&
         a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail += 1;
  const x = a.slice(head, a.length - tail);
  const y = b.slice(head, b.length - tail);
  const n = x.length, m = y.length;
  const lcs = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i -= 1) {
    for (let j = m - 1; j >= 0; j -= 1) {
      lcs[i][j] = x[i] === y[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out = a.slice(0, head).map((t) => ({ op: " ", text: t }));
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && x[i] === y[j]) { out.push({ op: " ", text: x[i] }); i += 1; j += 1; }
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { out.push({ op: "-", text: x[i] }); i += 1; }
    else { out.push({ op: "+", text: y[j] }); j += 1; }
  }
  return out.concat(a.slice(a.length - tail).map((t) => ({ op: " ", text: t })));
}

/** The unified diff text (3 lines of context, @@ hunks) of a → b, "" when equal. */
export function unified(aText, bText, aName = "a", bName = "b") {
  const ops = diffLines(aText, bText);
  if (!ops.some((o) => o.op !== " ")) return "";
  const lines = [`--- ${aName}`, `+++ ${bName}`];
  let ai = 1, bi = 1, k = 0;
  while (k < ops.length) {
    if (ops[k].op === " ") { ai += 1; bi += 1; k += 1; continue; }
    let start = Math.max(0, k - 3);
    let end = k;
    for (let last = k; end < ops.length; end += 1) {
      if (ops[end].op !== " ") last = end;
      else if (end - last > 6) { end = last + 4; break; }
    }
    end = Math.min(end, ops.length);
    const back = k - start;
    const hunk = ops.slice(start, end);
    const aLen = hunk.filter((o) => o.op !== "+").length;
    const bLen = hunk.filter((o) => o.op !== "-").length;
    lines.push(`@@ -${ai - back},${aLen} +${bi - back},${bLen} @@`);
    for (const o of hunk) lines.push(o.op + o.text);
    for (const o of ops.slice(k, end)) { if (o.op !== "+") ai += 1; if (o.op !== "-") bi += 1; }
    k = end;
  }
  return lines.join("\n");
}

/** A unified diff text as a <pre> with added/removed lines coloured (by class). */
export function diffView(text) {
  if (!text) return h("p.muted", "No difference.");
  return h("pre.diff", { tabindex: 0 }, text.split("\n").map((line) => {
    const cls = line.startsWith("+++") || line.startsWith("---") ? "meta"
      : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add"
        : line.startsWith("-") ? "del" : "ctx";
    return h(`span.${cls}`, line + "\n");
  }));
}
