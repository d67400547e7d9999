import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The import order of src/ (src/layers.json, described in ARCHITECTURE.md): type-only imports count
// too, since a type import still couples a room to a later one and is the first step to a runtime one.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');
const layers = JSON.parse(readFileSync(join(SRC, 'layers.json'), 'utf8')) as {
  order: string[];
  exceptions: { from: string; to: string; reason: string }[];
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.ts$/.test(e.name) ? [join(dir, e.name)] : [],
  );
}

/** Every relative import and re-export of a file (static, dynamic and type-only), with its line. */
function importsOf(file: string): { target: string; line: number }[] {
  const text = readFileSync(file, 'utf8');
  const found: { target: string; line: number }[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const m of text.matchAll(pattern)) {
    const line = text.slice(0, m.index).split('\n').length;
    found.push({ target: resolve(dirname(file), m[1]), line });
  }
  return found;
}

/** The room a src/ file belongs to: its top folder, or the file itself at the top. */
function roomOf(file: string): string {
  return relative(SRC, file).split('/')[0];
}

const files = sources(SRC);
const edges = files.flatMap((from) => importsOf(from).map((i) => ({ from, to: i.target, line: i.line })));
const shown = (e: { from: string; to: string; line: number }): string =>
  `src/${relative(SRC, e.from)}:${e.line} imports src/${relative(SRC, e.to)}`;
const excepted = (from: string, to: string): boolean =>
  layers.exceptions.some((x) => relative(SRC, from) === x.from && relative(SRC, to) === x.to);

test('every room of src/ is in the order, and every exception gives a reason', () => {
  const rooms = [...new Set(files.map(roomOf))];
  assert.deepEqual(rooms.filter((r) => !layers.order.includes(r)), [], 'rooms missing from src/layers.json');
  assert.deepEqual(layers.exceptions.filter((x) => !x.reason?.trim()), []);
});

test('ARCHITECTURE.md describes the rooms in the order src/layers.json gives', () => {
  const map = readFileSync(join(ROOT, 'ARCHITECTURE.md'), 'utf8');
  const rooms = [...map.matchAll(/^\| `([^`]+?)\/?` \|/gm)].map((m) => m[1]);
  assert.deepEqual(rooms, layers.order);
});

test('imports point down the order of rooms, never up', () => {
  const rank = (f: string): number => layers.order.indexOf(roomOf(f));
  const backward = edges.filter((e) => rank(e.to) > rank(e.from) && !excepted(e.from, e.to));
  assert.deepEqual(
    backward.map((e) => `${shown(e)} (${roomOf(e.from)} comes before ${roomOf(e.to)})`),
    [],
    'backward imports',
  );
});

/** The cycles of a graph, one per strongly connected component with more than one node (Tarjan). */
function cycles(nodes: string[], next: (n: string) => string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (n: string): void => {
    index.set(n, index.size);
    low.set(n, index.get(n)!);
    stack.push(n), onStack.add(n);
    for (const m of next(n)) {
      if (!index.has(m)) visit(m), low.set(n, Math.min(low.get(n)!, low.get(m)!));
      else if (onStack.has(m)) low.set(n, Math.min(low.get(n)!, index.get(m)!));
    }
    if (low.get(n) === index.get(n)) {
      const component: string[] = [];
      let m: string;
      do (m = stack.pop()!), onStack.delete(m), component.push(m);
      while (m !== n);
      if (component.length > 1) out.push(component.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return out;
}

test('no import cycle between files', () => {
  const found = cycles(files, (f) => edges.filter((e) => e.from === f).map((e) => e.to));
  assert.deepEqual(
    found.map((c) => edges.filter((e) => c.includes(e.from) && c.includes(e.to)).map(shown).join('; ')),
    [],
    'file cycles',
  );
});

test('no import cycle between rooms', () => {
  const cross = edges.filter((e) => roomOf(e.from) !== roomOf(e.to));
  const rooms = [...new Set(files.map(roomOf))];
  const found = cycles(rooms, (r) => [...new Set(cross.filter((e) => roomOf(e.from) === r).map((e) => roomOf(e.to)))]);
  // One import per pair of rooms in the cycle, as an example: the whole list can run to hundreds.
  const example = (c: string[]): string[] => {
    const pairs = new Map<string, string>();
    for (const e of cross) {
      const key = `${roomOf(e.from)} -> ${roomOf(e.to)}`;
      if (c.includes(roomOf(e.from)) && c.includes(roomOf(e.to)) && !pairs.has(key)) pairs.set(key, `${key}: ${shown(e)}`);
    }
    return [...pairs.values()];
  };
  assert.deepEqual(found.map(example), [], 'room cycles');
});
