import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Document, type Node } from 'yaml';
import type { SpecIssue } from '../errors.ts';

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

/** Text in, document out: pure, so validation of a spec never touches the disk. */
export function parseSpecText(text: string, file: string): ParsedSpec {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source = { file, doc, lines };
  const seen = new Set<number>();
  const issues = [...doc.errors, ...doc.warnings].flatMap((e) => {
    // One syntax error often trips several of yaml's rules at the same place; the first says most.
    if (seen.has(e.pos[0])) return [];
    seen.add(e.pos[0]);
    const { line, col } = lines.linePos(e.pos[0]);
    // yaml appends a context excerpt after the first line; the location already says where.
    return [{ file, line, col, message: `YAML: ${e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}` }];
  });
  return { source, value: issues.length ? undefined : doc.toJS(), issues };
}

function childNode(node: unknown, seg: PathSegment, wantKey: boolean): Node | undefined {
  if (isMap(node)) {
    const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
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
