// GitHub's own expression evaluator (@actions/expressions), for the runner-like harness (harness.py).
// stdin: {"contexts": {...}, "items": [{"kind": "template" | "condition", "text": "..."}]}
// stdout: one value per item: a template's string with every ${{ }} replaced, a condition's truth.
// The package is pinned in tests/fixtures (package.json and its lock), beside the webhook payloads.
const dist = new URL("../fixtures/node_modules/@actions/expressions/dist/", import.meta.url);
const { Evaluator, Lexer, Parser, data } = await import(new URL("index.js", dist).href);
const { truthy } = await import(new URL("result.js", dist).href);

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));
const contexts = JSON.parse(JSON.stringify(input.contexts), data.reviver);
const names = Object.keys(input.contexts);

function evaluate(expression) {
  const lexed = new Lexer(expression).lex();
  const parsed = new Parser(lexed.tokens, names, []).parse();
  return new Evaluator(parsed, contexts).evaluate();
}

// The runner's template scan: `${{` opens, the first `}}` outside a string literal closes.
function template(text) {
  let out = "";
  let at = 0;
  for (;;) {
    const open = text.indexOf("${{", at);
    if (open < 0) return out + text.slice(at);
    out += text.slice(at, open);
    let i = open + 3;
    let quoted = false;
    while (i < text.length && (quoted || text.slice(i, i + 2) !== "}}")) {
      if (text[i] === "'") quoted = !quoted;
      i++;
    }
    if (i >= text.length) throw new Error(`unclosed expression in ${JSON.stringify(text)}`);
    out += evaluate(text.slice(open + 3, i)).coerceString();
    at = i + 2;
  }
}

function condition(text) {
  const trimmed = text.trim();
  const whole = trimmed.startsWith("${{") && trimmed.endsWith("}}") ? trimmed.slice(3, -2) : trimmed;
  return truthy(evaluate(whole));
}

const results = input.items.map(({ kind, text }) => (kind === "condition" ? condition(text) : template(text)));
process.stdout.write(JSON.stringify(results));
