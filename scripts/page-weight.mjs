#!/usr/bin/env node
// Weighs the chat page: every file under site/ (bytes as served, and gzip -9),
// and lists references to other origins (any absolute http(s) URL; XML namespace
// names such as xmlns="http://www.w3.org/2000/svg" are identifiers, not requests).
// Exits 1 when the page is over budget or loads anything from elsewhere.
//
//   node scripts/page-weight.mjs [--dir site] [--budget-kb 68]  (sign-in, site/signin.js, adds about 10 KB; reasons and history limits 2 KB;
//   saved conversations 27 KB: the sidebar (conversations.js), its two stores, server and this browser (conversation-store.js),
//   the narrow-screen drawer (drawer.js) and their styles; 8 KB gzipped)
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, extname } from "node:path";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values } = parseArgs({
  options: {
    dir: { type: "string", default: join(root, "site") },
    "budget-kb": { type: "string", default: "68" },
  },
});
const budget = Number(values["budget-kb"]) * 1024;
const TEXT = new Set([".html", ".htm", ".css", ".js", ".mjs", ".svg", ".json", ".webmanifest", ".txt", ".xml"]);

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

const rows = [];
const references = [];
for (const path of [...walk(values.dir)].sort()) {
  const bytes = readFileSync(path);
  const name = relative(values.dir, path);
  rows.push({ name, raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
  if (!TEXT.has(extname(path).toLowerCase())) continue;
  bytes
    .toString("utf8")
    .split("\n")
    .forEach((line, i) => {
      const scrubbed = line.replace(/\bxmlns(?::[\w-]+)?\s*=\s*(["'])[^"']*\1/g, "");
      // Absolute http(s) URLs, and protocol-relative //host URLs in attribute or url() position.
      for (const [url] of scrubbed.matchAll(/\bhttps?:\/\/[^\s"'`<>)]+|(?<=["'(=]\s*)\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)+[^\s"'`<>)]*/gi)) {
        references.push(`${name}:${i + 1}: ${url}`);
      }
    });
}

const total = rows.reduce((sum, r) => sum + r.raw, 0);
const totalGzip = rows.reduce((sum, r) => sum + r.gzip, 0);
const width = Math.max(5, ...rows.map((r) => r.name.length));
console.log(`${"file".padEnd(width)}  ${"bytes".padStart(7)}  ${"gzip".padStart(7)}`);
for (const r of rows) console.log(`${r.name.padEnd(width)}  ${String(r.raw).padStart(7)}  ${String(r.gzip).padStart(7)}`);
console.log(`${"total".padEnd(width)}  ${String(total).padStart(7)}  ${String(totalGzip).padStart(7)}`);
console.log(
  `page weight: ${total} bytes (${(total / 1024).toFixed(1)} KB) uncompressed, ${totalGzip} bytes (${(totalGzip / 1024).toFixed(1)} KB) gzip; budget ${values["budget-kb"]} KB`,
);
console.log(`third-party references: ${references.length}`);
for (const r of references) console.log(`  ${r}`);

const problems = [];
if (total > budget) problems.push(`over budget by ${total - budget} bytes`);
if (references.length) problems.push(`${references.length} third-party reference(s)`);
if (problems.length) {
  console.error(`page-weight: FAIL: ${problems.join("; ")}`);
  process.exit(1);
}
