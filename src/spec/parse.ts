import { Composer, Document, Lexer, LineCounter, Parser, isAlias, isMap, isScalar, isSeq, visit, type Node, type Pair, type YAMLMap } from 'yaml';
import type { CST } from 'yaml';
import type { SpecIssue } from '../errors.ts';
import { excerpt } from './hints.ts';

export type PathSegment = string | number;

/** A parsed spec file that can answer "where in the text is this value?". */
export interface SourceDoc {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

export interface ParsedSpec {
  source: SourceDoc;
  value: unknown;
  issues: SpecIssue[];
}

/**
 * How deep a spec may nest. A real spec needs about six levels; past this the YAML library's
 * recursive composer, and every recursive walk after it, could run out of stack.
 */
export const MAX_NESTING = 64;

/**
 * The longest spec read, in characters. Real specs are a few kilobytes; this bounds the time and
 * memory a wrong file (a data file, a log) can cost before it is refused.
 */
export const MAX_SPEC_CHARS = 1024 * 1024;

/** How many copies of anchored values the aliases of one spec may make (yaml's own guard, kept at its default). */
const MAX_ALIAS_COPIES = 100;

/** yaml's messages where they name its API or its internals, in words a spec author can act on. */
const YAML_MESSAGES: Partial<Record<string, string>> = {
  MULTIPLE_DOCS: 'a spec is one YAML document, but a second one starts here; put each spec in its own file',
  RESOURCE_EXHAUSTION: `the spec nests too deeply to read here; a spec needs a few levels, tunespec reads at most ${MAX_NESTING}`,
};

/** CST tokens of `text`, stopping at the first place that nests deeper than MAX_NESTING. */
function* tokens(text: string, parser: Parser, tooDeep: (offset: number) => void): Generator<CST.Token> {
  for (const lexeme of new Lexer().lex(text)) {
    yield* parser.next(lexeme);
    // The parser keeps one stack entry per open collection, so this is the nesting depth, found without recursion.
    if (parser.stack.length > MAX_NESTING + 1) return tooDeep(parser.offset);
  }
  yield* parser.end();
}

/**
 * Duplicate keys, checked with one Set per mapping: yaml's own check (`uniqueKeys`) compares each
 * key with every earlier one, which took minutes on a spec of tens of thousands of keys.
 */
function duplicateKeys(doc: Document.Parsed): number[] {
  const offsets: number[] = [];
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const key = isScalar(pair.key) ? pair.key.value : pair.key;
        if (seen.has(key)) offsets.push((pair.key as Node | null)?.range?.[0] ?? map.range?.[0] ?? 0);
        seen.add(key);
      }
    },
  });
  return offsets;
}

function firstAlias(doc: Document.Parsed): Node | undefined {
  let found: Node | undefined;
  visit(doc, {
    Alias(_, node) {
      found = node;
      return visit.BREAK;
    },
  });
  return found;
}

/** Text in, document out: pure, so validation of a spec never touches the disk. */
export function parseSpecText(text: string, file: string): ParsedSpec {
  const lines = new LineCounter();
  const at = (offset: number, message: string): SpecIssue => ({ file, ...lines.linePos(offset), message });
  const fatal = (offset: number, message: string): ParsedSpec => ({
    source: { file, doc: new Document() as Document.Parsed, lines },
    value: undefined,
    issues: [at(offset, message)],
  });
  lines.addNewLine(0);
  if (text.length > MAX_SPEC_CHARS) {
    return fatal(0, `spec: the file has ${text.length} characters, more than the ${MAX_SPEC_CHARS} a spec may have; is it a spec?`);
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    for (let i = text.indexOf('\n'); i >= 0 && i < nul; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
    return fatal(nul, 'spec: this is not a text file (it holds a NUL byte here); a spec is YAML text');
  }
  let deepAt: number | undefined;
  const parser = new Parser(lines.addNewLine);
  const docs = Array.from(new Composer({ uniqueKeys: false }).compose(tokens(text, parser, (o) => (deepAt = o)), true, text.length));
  if (deepAt !== undefined) return fatal(deepAt, `YAML: the spec nests more than ${MAX_NESTING} levels deep here; a spec needs a few`);
  const doc = docs[0];
  const source = { file, doc, lines };
  const found: { offset: number; message: string }[] = [...doc.errors, ...doc.warnings].map((e) => ({
    offset: e.pos[0],
    // yaml appends a context excerpt after the first line; the location already says where.
    message: YAML_MESSAGES[e.code] ?? excerpt(e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, ''), 200),
  }));
  if (docs.length > 1) found.push({ offset: docs[1].range[0], message: YAML_MESSAGES.MULTIPLE_DOCS! });
  for (const offset of duplicateKeys(doc)) found.push({ offset, message: 'Map keys must be unique' });
  found.sort((a, b) => a.offset - b.offset);
  const seen = new Set<number>();
  // One syntax error often trips several of yaml's rules at the same place; the first says most.
  const issues = found.filter((f) => (seen.has(f.offset) ? false : (seen.add(f.offset), true))).map((f) => at(f.offset, `YAML: ${f.message}`));
  if (issues.length) return { source, value: undefined, issues };
  try {
    return { source, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COPIES }), issues: [] };
  } catch {
    // toJS fails on a document that composed cleanly only when its aliases multiply past yaml's guard.
    const alias = firstAlias(doc);
    const name = alias && isAlias(alias) ? ` (*${excerpt(alias.source, 40)})` : '';
    return {
      source,
      value: undefined,
      issues: [at(alias?.range?.[0] ?? 0, `YAML: aliases${name} expand to more than ${MAX_ALIAS_COPIES} copies of anchored values; write the values out instead`)],
    };
  }
}

/** Keys of a mapping, indexed once, so locating thousands of issues in one mapping stays linear. */
const keyIndexes = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = keyIndexes.get(map);
  if (!index) {
    index = new Map();
    for (const p of map.items) {
      const k = isScalar(p.key) ? String(p.key.value) : String(p.key);
      if (!index.has(k)) index.set(k, p);
    }
    keyIndexes.set(map, index);
  }
  return index.get(key);
}

function childNode(node: unknown, seg: PathSegment, wantKey: boolean): Node | undefined {
  if (isMap(node)) {
    const pair = pairOf(node, String(seg));
    if (!pair) return undefined;
    return (wantKey ? pair.key : pair.value) as Node | undefined;
  }
  if (isSeq(node) && typeof seg === 'number') return node.items[seg] as Node | undefined;
  return undefined;
}

/**
 * The line and column of the value at `path` (or of its key, with `key`), falling back to the
 * deepest ancestor that exists, so an issue about a missing value points at its parent.
 */
export function locate(source: SourceDoc, path: PathSegment[], key = false): { line: number; col: number } {
  let node: unknown = source.doc.contents;
  let best = node as Node | undefined;
  for (let i = 0; i < path.length; i++) {
    const next = childNode(node, path[i], key && i === path.length - 1);
    if (!next) break;
    node = next;
    best = next;
  }
  const offset = best?.range?.[0] ?? 0;
  return source.lines.linePos(offset);
}

/** ajv's instancePath (`/head/2/units`) as path segments; numeric parts index arrays. */
export function pointerToPath(pointer: string): PathSegment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** `training.learning_rate`, `head.1.rate` → path segments. */
export function dottedToPath(dotted: string): PathSegment[] {
  return dotted.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function pathToDotted(path: PathSegment[]): string {
  return path.join('.');
}
