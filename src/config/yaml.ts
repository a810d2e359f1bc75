// Multi-document YAML into plain values, with hard limits checked before the
// expensive work. In order:
//   1. byte count (O(1)), then strict UTF-8 decoding;
//   2. the `yaml` lexer's tokens, checked on their way into the parser: a bound
//      on nesting depth, the alias and document counts — stopping at the first
//      excess, so a 1 MiB `- - - - …` is refused in milliseconds;
//   3. the parser's syntax tree: exact depth and entries per map or list, before
//      the composer builds a node for any of them;
//   4. the composer with `uniqueKeys: false`: the library's own duplicate-key
//      check compares every key with every earlier one (measured here: 10,000
//      keys 1.0 s instead of 0.16 s, 50,000 keys 19 s instead of 0.6 s);
//   5. our conversion to plain values: duplicate keys found with a Set (O(n)),
//      what aliases expand to bounded (the library's maxAliasCount only guards
//      its own toJS, which we do not use), maps built on null-prototype objects
//      so no key (`__proto__` included) can reach Object.prototype.

import type { CST, Document, Node } from "yaml";
import { yamlLib } from "./yaml-lib.ts";
import { InvalidArgumentError } from "../lib/errors.ts";
import { joinPath } from "./schema.ts";

export interface ConfigLimits {
  /** Talos configs are tens of KiB; a megabyte is far beyond any real one. */
  maxBytes: number;
  /** Maps and lists inside each other; Talos's deepest keys sit at about 10. */
  maxDepth: number;
  /** Entries in one map or list (10,000 sysctls must still parse). */
  maxEntries: number;
  /** `*alias` references in the whole input. */
  maxAliases: number;
  /** Values produced by expanding aliases (the "billion laughs" bound). */
  maxAliasExpansion: number;
  /** YAML documents in one input. */
  maxDocuments: number;
}

export const CONFIG_LIMITS: Readonly<ConfigLimits> = Object.freeze({
  maxBytes: 1024 * 1024,
  maxDepth: 64,
  maxEntries: 10_000,
  maxAliases: 100,
  maxAliasExpansion: 10_000,
  maxDocuments: 64,
});

export interface YamlDocument {
  /** 0-based position in the input. */
  index: number;
  /** The document's content as plain values; null for an empty document. */
  value: unknown;
  /** Duplicate keys and limits crossed, with paths inside the document. */
  errors: string[];
  /** The composed document: its nodes carry source ranges (redaction rewrites the text by them, see redact.ts). */
  node: Document.Parsed;
}

/** UTF-8 bytes or already-decoded text into text, refusing oversized or invalid input. */
export function decodeConfigText(input: Uint8Array | string, limits: ConfigLimits = CONFIG_LIMITS): string {
  const bytes = typeof input === "string" ? Buffer.byteLength(input, "utf8") : input.byteLength;
  if (bytes > limits.maxBytes) throw new InvalidArgumentError(`config: ${bytes} bytes is over the limit of ${limits.maxBytes} bytes`);
  if (typeof input === "string") return input;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(input);
  } catch {
    throw new InvalidArgumentError(`config: not valid UTF-8 (byte ${firstBadUtf8(input)} starts an invalid sequence)`);
  }
}

/** Where decoding fails, for the message (the slow path, only after a failure). */
function firstBadUtf8(b: Uint8Array): number {
  const d = new TextDecoder("utf-8", { fatal: true });
  let lo = 0;
  let hi = b.length;
  // The longest decodable prefix, by bisection; a sequence split by the cut fails too, so step back up to 3 bytes.
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    try {
      d.decode(b.subarray(0, mid));
      lo = mid;
    } catch {
      hi = mid - 1;
    }
  }
  return lo;
}

/**
 * The lexer's tokens, checked on the way to the parser: an upper bound on
 * nesting depth (open indentation levels plus the block indicators on the
 * current line plus open flow brackets), aliases and documents. Throws at the
 * first excess, so the parser has seen no more than that much of the input.
 */
export function* limitedTokens(text: string, limits: ConfigLimits = CONFIG_LIMITS): Generator<string, void> {
  let flow = 0;
  let indicators = 0;
  let indent = 0;
  let lineStart = true;
  let scalarNext = false;
  let aliases = 0;
  let documents = 1;
  let content = false;
  const levels: number[] = [];
  // Per open level: block entries seen so far (keys, and `- ` items of a compact list at the same indent)
  // and where the first one was: a 40,000-key map is refused here, a quarter of the way into it,
  // instead of after the parser built its whole syntax tree.
  const counts: { keys: number; items: number; at: string }[] = [];
  let line = 1;
  for (const tok of new (yamlLib().Lexer)().lex(text)) {
    yield tok;
    if (scalarNext) {
      scalarNext = false; // a scalar's source text, whatever it looks like
      continue;
    }
    const type = yamlLib().CST.tokenType(tok);
    switch (type) {
      case "newline":
        line++;
        lineStart = true;
        indent = 0;
        indicators = 0;
        continue;
      case "space":
        if (lineStart) indent = tok.length;
        continue;
      case "comment":
      case "directive-line":
      case "byte-order-mark":
      case "doc-mode":
        continue;
      case "doc-start":
        if (content && ++documents > limits.maxDocuments) refuse(`more than ${limits.maxDocuments} YAML documents`);
        content = false;
        levels.length = 0;
        counts.length = 0;
        flow = 0;
        continue;
      case "doc-end":
        levels.length = 0;
        counts.length = 0;
        flow = 0;
        continue;
    }
    content = true;
    if (lineStart && flow === 0) {
      while (levels.length > 0 && levels[levels.length - 1]! > indent) {
        levels.pop();
        counts.pop();
      }
      if (levels[levels.length - 1] !== indent) {
        levels.push(indent);
        counts.push({ keys: 0, items: 0, at: `line ${line}, column ${indent + 1}` });
      }
      countEntry(counts[counts.length - 1]!, type, limits);
    }
    lineStart = false;
    switch (type) {
      case "seq-item-ind":
      case "explicit-key-ind":
      case "map-value-ind":
        if (flow === 0) indicators++;
        break;
      case "flow-seq-start":
      case "flow-map-start":
        flow++;
        break;
      case "flow-seq-end":
      case "flow-map-end":
        if (flow > 0) flow--;
        break;
      case "alias":
        if (++aliases > limits.maxAliases) refuse(`more than ${limits.maxAliases} aliases`);
        break;
      case "scalar":
        scalarNext = true;
        break;
    }
    // The bound over-counts by at most two (a line's own level and a scalar's `:`), hence the slack.
    if (levels.length + indicators + flow > limits.maxDepth + 2) refuse(`nesting deeper than ${limits.maxDepth} levels`);
  }
}

/**
 * Over-counts by at most a line or two per collection (a line holding only an
 * anchor, a tag, an alias or a flow value), never under the real entry count's
 * excess: hence the slack, and checkCollections stays the exact check.
 */
const ENTRY_SLACK = 2;

/** One line's first token at an open level: a key, a compact list's `- ` item, or neither. */
function countEntry(c: { keys: number; items: number; at: string }, type: string | null | undefined, limits: ConfigLimits): void {
  if (type === "seq-item-ind") c.items++;
  else if (type === "map-value-ind" || type === "anchor" || type === "tag")
    return; // an explicit key's value; a node's properties
  else {
    c.keys++;
    c.items = 0; // a compact list under a key ends at the next key
  }
  if (Math.max(c.keys, c.items) > limits.maxEntries + ENTRY_SLACK)
    refuse(`more than ${limits.maxEntries} entries in one map or list at ${c.at} (the limit is ${limits.maxEntries})`);
}

function refuse(what: string): never {
  throw new InvalidArgumentError(`config: ${what}`);
}

interface Conversion {
  doc: Document.Parsed;
  limits: ConfigLimits;
  errors: string[];
  /** Inside how many alias expansions we are. */
  inAlias: number;
  expanded: number;
  /** Alias targets being expanded: a cycle would never end. */
  resolving: Set<Node>;
}

/**
 * Parses every document of `text` (limits first). YAML syntax errors throw an
 * InvalidArgumentError listing them all; problems found while converting
 * (duplicate keys, limits) are returned per document with document-relative paths.
 */
export function parseYamlDocuments(text: string, limits: ConfigLimits = CONFIG_LIMITS): YamlDocument[] {
  const parser = new (yamlLib().Parser)();
  const tokens: CST.Token[] = [];
  for (const lexeme of limitedTokens(text, limits)) for (const token of parser.next(lexeme)) tokens.push(token);
  for (const token of parser.end()) tokens.push(token);
  checkCollections(tokens, text, limits);
  const docs = Array.from(new (yamlLib().Composer)({ uniqueKeys: false, strict: true, prettyErrors: false }).compose(tokens));
  const syntax: string[] = [];
  docs.forEach((doc, index) => {
    const where = docs.length > 1 ? ` (document ${index})` : "";
    for (const p of [...doc.errors, ...doc.warnings]) syntax.push(`invalid YAML${where}: ${p.message.split("\n")[0]} at ${lineAndColumn(text, p.pos[0])}`);
  });
  if (syntax.length > 0) throw new InvalidArgumentError(`config: ${syntax.join("\n  ")}`);
  return docs.map((doc, index) => {
    const conv: Conversion = { doc, limits, errors: [], inAlias: 0, expanded: 0, resolving: new Set() };
    let value: unknown = null;
    try {
      value = toPlain(doc.contents, "", 1, conv);
    } catch (e) {
      if (!(e instanceof StopConversion)) throw e; // the limit's message is in `errors` already
    }
    return { index, value, errors: conv.errors, node: doc };
  });
}

/**
 * Entries per map or list, and nesting depth, on the parser's syntax tree —
 * before the composer builds nodes for them. Iterative: the depth is unknown
 * until measured.
 */
function checkCollections(tokens: CST.Token[], text: string, limits: ConfigLimits): void {
  const stack: { token: CST.Token; depth: number }[] = tokens.map((token) => ({ token, depth: 0 }));
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (token.type === "document") {
      if (token.value) stack.push({ token: token.value, depth });
      continue;
    }
    if (token.type !== "block-map" && token.type !== "block-seq" && token.type !== "flow-collection") continue;
    const where = lineAndColumn(text, token.offset);
    if (depth + 1 > limits.maxDepth) refuse(`nesting deeper than ${limits.maxDepth} levels at ${where}`);
    if (token.items.length > limits.maxEntries) refuse(`${token.items.length} entries in one map or list at ${where} (the limit is ${limits.maxEntries})`);
    for (const item of token.items as CST.CollectionItem[]) {
      if (item.key) stack.push({ token: item.key, depth: depth + 1 });
      if (item.value) stack.push({ token: item.value, depth: depth + 1 });
    }
  }
}

/** "line 3, column 1" of an offset (only for the few syntax errors, so a scan is fine). */
function lineAndColumn(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) {
    line++;
    start = i + 1;
  }
  return `line ${line}, column ${offset - start + 1}`;
}

function toPlain(node: unknown, path: string, depth: number, c: Conversion): unknown {
  if (node === null || node === undefined) return null;
  if (c.inAlias > 0 && ++c.expanded > c.limits.maxAliasExpansion) {
    c.errors.push(`${path || "(document)"}: aliases expand to more than ${c.limits.maxAliasExpansion} values`);
    throw new StopConversion();
  }
  if (yamlLib().isAlias(node)) {
    const target = node.resolve(c.doc);
    if (!target) return void c.errors.push(`${path || "(document)"}: unresolved alias *${node.source}`);
    if (c.resolving.has(target)) return void c.errors.push(`${path || "(document)"}: alias *${node.source} refers to itself`);
    c.resolving.add(target);
    c.inAlias++;
    try {
      return toPlain(target, path, depth, c);
    } finally {
      c.inAlias--;
      c.resolving.delete(target);
    }
  }
  if (yamlLib().isScalar(node)) return node.value;
  if (yamlLib().isSeq(node) || yamlLib().isMap(node)) {
    if (depth > c.limits.maxDepth) {
      c.errors.push(`${path || "(document)"}: nesting deeper than ${c.limits.maxDepth} levels`);
      throw new StopConversion();
    }
    if (node.items.length > c.limits.maxEntries) {
      c.errors.push(`${path || "(document)"}: ${node.items.length} entries is over the limit of ${c.limits.maxEntries}`);
      return null;
    }
  }
  if (yamlLib().isSeq(node)) return node.items.map((item, i) => toPlain(item, joinPath(path, i), depth + 1, c));
  if (yamlLib().isMap(node)) {
    const result: Record<string, unknown> = Object.create(null);
    const seen = new Set<string>();
    for (const pair of node.items) {
      if (!yamlLib().isPair(pair)) continue;
      const key = keyOf(pair.key, c);
      if (key === undefined) {
        c.errors.push(`${path || "(document)"}: keys must be strings or numbers, not collections`);
        continue;
      }
      const keyPath = joinPath(path, key);
      if (seen.has(key)) {
        c.errors.push(`${keyPath}: duplicate key`);
        continue;
      }
      seen.add(key);
      result[key] = toPlain(pair.value, keyPath, depth + 1, c);
    }
    return result;
  }
  return null;
}

/** A map key as the string Talos's Go decoder would see (YAML `1:` is "1"); undefined for a collection key. */
function keyOf(key: unknown, c: Conversion): string | undefined {
  const k = yamlLib().isAlias(key) ? key.resolve(c.doc) : key;
  if (k === null || k === undefined) return "";
  if (yamlLib().isScalar(k)) return k.value === null ? "" : String(k.value);
  return undefined;
}

/** Thrown to stop converting a document once a limit is crossed (its message is already in `errors`). */
class StopConversion extends Error {}
