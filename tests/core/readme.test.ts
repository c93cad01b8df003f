// The user's documentation holds together: every relative link in README.md, bench/README.md,
// examples', plugins' and core's READMEs and guides points at a file that exists, and every #anchor at a heading that
// exists (GitHub's heading ids). Links inside code blocks and code spans are not links and are skipped.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const test = suite("readme");
const ROOT = normalize(join(new URL("..", import.meta.url).pathname, ".."));

/** Every Markdown file of the user's documentation: the top level, bench/, examples/ and the plugins' folders. */
function markdownUnder(dir: string): string[] {
  if (!existsSync(join(ROOT, dir))) return [];
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? markdownUnder(`${dir}/${e.name}`) : e.name.endsWith(".md") ? [`${dir}/${e.name}`] : []
  );
}

const DOCS = ["README.md", "ARCHITECTURE.md", "bench/README.md", ...markdownUnder("examples"), ...markdownUnder("plugins"), ...markdownUnder("core")];

/** The file's lines outside fenced code blocks, each with its 1-based line number. */
function prose(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  let fence: string | undefined;
  text.split("\n").forEach((raw, i) => {
    const m = /^\s*(```+|~~~+)/.exec(raw);
    if (m) {
      if (fence === undefined) fence = m[1]![0]!;
      else if (m[1]![0] === fence) fence = undefined;
      return;
    }
    if (fence === undefined) out.push({ line: i + 1, text: raw });
  });
  return out;
}

/** GitHub's id for a heading: the rendered text, lower-cased, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  const rendered = heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/[`*]/g, "")
    .trim()
    .toLowerCase();
  return rendered.replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

const anchorCache = new Map<string, Set<string>>();
function anchorsOf(file: string): Set<string> {
  let anchors = anchorCache.get(file);
  if (anchors) return anchors;
  anchors = new Set();
  const seen = new Map<string, number>();
  for (const { text } of prose(readFileSync(join(ROOT, file), "utf8"))) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  anchorCache.set(file, anchors);
  return anchors;
}

/** Every markdown link target of a file, outside code, with its line. */
function linksOf(file: string): Array<{ line: number; target: string }> {
  const out: Array<{ line: number; target: string }> = [];
  for (const { line, text } of prose(readFileSync(join(ROOT, file), "utf8"))) {
    const withoutCode = text.replace(/`[^`]*`/g, "``");
    for (const m of withoutCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push({ line, target: m[1]! });
  }
  return out;
}

test("every relative link and anchor in the user docs resolves", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const file of DOCS) {
    assert.ok(existsSync(join(ROOT, file)), `${file} exists`);
    for (const { line, target } of linksOf(file)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto: ...
      checked++;
      const [pathPart, anchor] = target.split("#", 2) as [string, string | undefined];
      const resolved = pathPart === "" ? file : normalize(join(dirname(file), decodeURIComponent(pathPart)));
      if (relative(ROOT, join(ROOT, resolved)).startsWith("..") || !existsSync(join(ROOT, resolved))) {
        broken.push(`${file}:${line}: ${target} (no such file: ${resolved})`);
        continue;
      }
      if (anchor === undefined) continue;
      if (!resolved.endsWith(".md")) broken.push(`${file}:${line}: ${target} (an anchor into a file that is not markdown)`);
      else if (!anchorsOf(resolved).has(anchor)) broken.push(`${file}:${line}: ${target} (no heading #${anchor} in ${resolved})`);
    }
  }
  assert.ok(checked > 50, `links were found (${checked})`);
  assert.equal(broken, []);
});

test("the README's table of contents names every section", () => {
  const anchors = anchorsOf("README.md");
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const contents = /\n## Contents\n([\s\S]*?)\n## /.exec(text)?.[1] ?? "";
  const listed = new Set([...contents.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!));
  const sections = prose(text).map((l) => /^## (.*)$/.exec(l.text)?.[1]).filter((h): h is string => h !== undefined).map(slug);
  const before = sections.indexOf("contents");
  assert.ok(before > 0, "README.md has a Contents section");
  const missing = sections.slice(before + 1).filter((s) => s !== "licence" && !listed.has(s));
  assert.equal(missing, [], "sections after Contents missing from it");
  for (const a of listed) assert.ok(anchors.has(a), `#${a} is a heading`);
});

test("the slug matches GitHub's for the headings the docs use", () => {
  assert.is(slug("JSON configs (Portkey-compatible JSON)"), "json-configs-portkey-compatible-json");
  assert.is(slug("Your identity provider's tokens: `oidc()`"), "your-identity-providers-tokens-oidc");
  assert.is(slug("What servers start: progress, logs, sampling, elicitation, subscriptions"), "what-servers-start-progress-logs-sampling-elicitation-subscriptions");
  assert.is(slug("Azure AD (Microsoft Entra ID)"), "azure-ad-microsoft-entra-id");
});

test.run();
