// A validator for the part of JSON Schema (draft 2020-12) that core/config/json-schema.ts uses, written for
// its error messages: each problem names its JSON path and what was expected there (the node's
// `errorMessage`, else one derived from the node), and a oneOf/anyOf that fails is explained by the one
// branch the value was meant for rather than by every branch. Supported: $ref (local $defs), type,
// const, enum, minLength, maxLength, pattern, minimum, maximum, items, minItems, properties, required,
// additionalProperties, propertyNames, if/then/else, oneOf, anyOf. Annotations are ignored.
import type { JsonSchema } from "./json-schema.ts";

/** One problem found in a JSON document. */
export interface SchemaIssue {
  /** Where: `mcpServers.github.args[1]`, or "" for the document itself. */
  path: string;
  /** What was expected there, and what was received (never a string that may be a credential). */
  message: string;
}

const patterns = new Map<string, RegExp>();

function regex(source: string): RegExp {
  let re = patterns.get(source);
  if (!re) patterns.set(source, re = new RegExp(source, "u"));
  return re;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasType(value: unknown, type: unknown): boolean {
  switch (type) {
    case "object": return isObject(value);
    case "array": return Array.isArray(value);
    case "string": return typeof value === "string";
    case "integer": return typeof value === "number" && Number.isInteger(value);
    case "number": return typeof value === "number" && Number.isFinite(value);
    case "boolean": return typeof value === "boolean";
    case "null": return value === null;
    default: return false;
  }
}

function equal(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === "object" && a !== null && JSON.stringify(a) === JSON.stringify(b));
}

function join(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

// Values at paths that may hold credentials are never echoed back in an error.
function secretish(path: string): boolean {
  const last = path.slice(path.lastIndexOf(".") + 1);
  return /secret|token|password|masterkey|previouskeys|credential/i.test(last) || /(?:^|\.)(?:headers|env)\.[^.]+$/.test(path);
}

function received(value: unknown, path: string): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return secretish(path) ? "a string" : JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  return String(value);
}

function deref(node: JsonSchema, root: JsonSchema): JsonSchema {
  let n = node;
  for (let hops = 0; typeof n.$ref === "string" && hops < 32; hops++) {
    const ref = n.$ref as string;
    if (!ref.startsWith("#/$defs/")) throw new Error(`unsupported $ref ${ref}`);
    const target = (root.$defs as Record<string, JsonSchema> | undefined)?.[ref.slice(8)];
    if (!target) throw new Error(`unknown $ref ${ref}`);
    // Keywords beside $ref other than annotations would be lost here; the schema uses none.
    n = target;
  }
  return n;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? `an ${word}` : `a ${word}`;
}

/**
 * What a schema node expects, in words: its `errorMessage`, else derived from its keywords.
 *
 * @example
 * expectedOf({ type: "integer", minimum: 0, maximum: 65535 }, schema); // "expected an integer between 0 and 65535"
 */
export function expectedOf(node: JsonSchema, root: JsonSchema): string {
  if (typeof node.errorMessage === "string") return node.errorMessage;
  if (typeof node.$ref === "string") return expectedOf(deref(node, root), root);
  if (Array.isArray(node.enum)) return `expected one of ${node.enum.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).join(", ")}`;
  if ("const" in node) return `expected ${JSON.stringify(node.const)}`;
  const branches = (node.oneOf ?? node.anyOf) as JsonSchema[] | undefined;
  if (branches) return branches.map((b) => expectedOf(b, root)).join(" or ").replace(/ or expected /g, " or ");
  const type = node.type;
  if (type === "integer" || type === "number") {
    const word = type === "integer" ? "an integer" : "a number";
    const { minimum: min, maximum: max } = node as { minimum?: number; maximum?: number };
    if (min !== undefined && max !== undefined) return `expected ${word} between ${min} and ${max}`;
    if (min !== undefined) return `expected ${word} of at least ${min}`;
    if (max !== undefined) return `expected ${word} of at most ${max}`;
    return `expected ${word}`;
  }
  if (type === "boolean") return "expected true or false";
  if (type === "string" && typeof node.minLength === "number" && node.minLength > 0) return "expected a non-empty string";
  if (typeof type === "string") return `expected ${article(type)}`;
  if (Array.isArray(type)) return `expected ${type.map((t) => article(String(t))).join(" or ")}`;
  return "expected a valid value";
}

function issue(path: string, node: JsonSchema, root: JsonSchema, value: unknown): SchemaIssue {
  return { path, message: `${expectedOf(node, root)}, received ${received(value, path)}` };
}

/** Whether a branch could be the one meant for `value`, judged by the value's JSON type alone. */
function typeFits(node: JsonSchema, value: unknown): boolean {
  if (node.type !== undefined) return (Array.isArray(node.type) ? node.type : [node.type]).some((t) => hasType(value, t));
  if ("const" in node) return typeof node.const === typeof value;
  return true;
}

/** The property every branch fixes with a `const` (an auth strategy's `type`), if there is one. */
function discriminator(branches: JsonSchema[]): string | undefined {
  const first = branches[0]?.properties as Record<string, JsonSchema> | undefined;
  if (!first || branches.length < 2) return undefined;
  return Object.keys(first).find((k) =>
    branches.every((b) => {
      const p = (b.properties as Record<string, JsonSchema> | undefined)?.[k];
      return p !== undefined && "const" in p && (b.required as string[] | undefined)?.includes(k);
    })
  );
}

function combination(node: JsonSchema, kind: "oneOf" | "anyOf", value: unknown, root: JsonSchema, path: string): SchemaIssue[] {
  const branches = node[kind] as JsonSchema[];
  const results = branches.map((b) => check(b, value, root, path));
  const valid = results.filter((r) => r.length === 0).length;
  if (kind === "anyOf" ? valid >= 1 : valid === 1) return [];
  if (valid > 1) return [{ path, message: `${expectedOf(node, root)}: the value fits more than one form, received ${received(value, path)}` }];
  // Nothing fits: explain the failure against the one branch the value was meant for.
  const resolved = branches.map((b) => deref(b, root));
  const fitting = resolved.map((_, i) => i).filter((i) => typeFits(resolved[i]!, value));
  if (fitting.length === 0) return [issue(path, node, root, value)];
  if (fitting.length === 1) return results[fitting[0]!]!;
  if (isObject(value)) {
    const key = discriminator(fitting.map((i) => resolved[i]!));
    if (key !== undefined) {
      const consts = fitting.map((i) => ((resolved[i]!.properties as Record<string, JsonSchema>)[key]!).const);
      const hit = fitting.find((_, j) => equal(consts[j], value[key]));
      if (hit !== undefined) return results[hit]!;
      const expected = `expected one of ${consts.map((c) => (typeof c === "string" ? c : JSON.stringify(c))).join(", ")}`;
      if (!(key in value)) return [{ path: join(path, key), message: `required, but missing (${expected})` }];
      return [{ path: join(path, key), message: `${expected}, received ${received(value[key], join(path, key))}` }];
    }
    const keyed = fitting.filter((i) => {
      const required = (resolved[i]!.required as string[] | undefined) ?? [];
      return required.length > 0 && required.every((k) => k in value);
    });
    if (keyed.length === 1) return results[keyed[0]!]!;
  }
  // Still ambiguous: the branch with the fewest problems (the first of equals).
  let best = fitting[0]!;
  for (const i of fitting) if (results[i]!.length < results[best]!.length) best = i;
  return results[best]!;
}

function check(node: JsonSchema | boolean | undefined, value: unknown, root: JsonSchema, path: string): SchemaIssue[] {
  if (node === undefined || node === true) return [];
  if (node === false) return [{ path, message: `not allowed here, received ${received(value, path)}` }];
  if (typeof node.$ref === "string") {
    const inner = check(deref(node, root), value, root, path);
    if (inner.length > 0) return inner;
  }
  if (node.type !== undefined && !typeFits(node, value)) return [issue(path, node, root, value)];
  if ("const" in node && !equal(value, node.const)) return [issue(path, node, root, value)];
  if (Array.isArray(node.enum) && !node.enum.some((e) => equal(e, value))) return [issue(path, node, root, value)];
  if (typeof value === "string") {
    const length = [...value].length;
    if (typeof node.minLength === "number" && length < node.minLength) return [issue(path, node, root, value)];
    if (typeof node.maxLength === "number" && length > node.maxLength) return [issue(path, node, root, value)];
    if (typeof node.pattern === "string" && !regex(node.pattern).test(value)) return [issue(path, node, root, value)];
  }
  if (typeof value === "number") {
    if (typeof node.minimum === "number" && value < node.minimum) return [issue(path, node, root, value)];
    if (typeof node.maximum === "number" && value > node.maximum) return [issue(path, node, root, value)];
  }
  const out: SchemaIssue[] = [];
  if (Array.isArray(value)) {
    if (typeof node.minItems === "number" && value.length < node.minItems) return [issue(path, node, root, value)];
    if (node.items !== undefined) value.forEach((item, i) => out.push(...check(node.items as JsonSchema, item, root, `${path}[${i}]`)));
  }
  if (isObject(value)) {
    const properties = (node.properties ?? {}) as Record<string, JsonSchema>;
    const additional = node.additionalProperties as JsonSchema | boolean | undefined;
    for (const [key, v] of Object.entries(value)) {
      const at = join(path, key);
      if (node.propertyNames !== undefined) {
        const bad = check(node.propertyNames as JsonSchema, key, root, at);
        if (bad.length > 0) {
          out.push({ path: at, message: `${expectedOf(node.propertyNames as JsonSchema, root)}, received ${JSON.stringify(key)}` });
          continue;
        }
      }
      if (key in properties) out.push(...check(properties[key], v, root, at));
      else if (additional === false) {
        const known = Object.keys(properties).filter((k) => !k.startsWith("$"));
        out.push({ path: at, message: `unknown key; expected one of ${known.join(", ")}` });
      } else out.push(...check(additional as JsonSchema | undefined, v, root, at));
    }
    for (const key of (node.required as string[] | undefined) ?? []) {
      if (key in value) continue;
      const own = properties[key];
      out.push({ path: join(path, key), message: `required, but missing${own ? ` (${expectedOf(own, root)})` : ""}` });
    }
  }
  if (node.if !== undefined) {
    const branch = check(node.if as JsonSchema, value, root, path).length === 0 ? node.then : node.else;
    out.push(...check(branch as JsonSchema | undefined, value, root, path));
  }
  if (Array.isArray(node.oneOf)) out.push(...combination(node, "oneOf", value, root, path));
  if (Array.isArray(node.anyOf)) out.push(...combination(node, "anyOf", value, root, path));
  return out;
}

/**
 * Checks a JSON document against a schema, returning every problem with its path (empty: valid).
 *
 * @example
 * validateJson(JSON.parse(text), GATEWAY_JSON_SCHEMA); // [{ path: "server.port", message: "expected an integer ..." }]
 */
export function validateJson(value: unknown, schema: JsonSchema, root: JsonSchema = schema, path = ""): SchemaIssue[] {
  return check(schema, value, root, path);
}
