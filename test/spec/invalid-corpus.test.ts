// Every file in test/fixtures/invalid/ is a spec with mistakes; its leading comment block lists,
// as `# expect: <line>`, exactly what `tunespec validate` must print on stderr for it, in order.
// The CLI checks all fixtures in one process (it reports every issue of every file), and stderr
// is split by file prefix, so there is still one test per fixture.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = 'test/fixtures/invalid';
const fixtures = readdirSync(join(root, FIXTURES))
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((f) => `${FIXTURES}/${f}`);

interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function cli(...args: string[]): CliResult {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  const r = spawnSync(process.execPath, ['bin/tunespec.js', ...args], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '');
}

/** The `# expect:` lines of the comment block a fixture starts with. */
function expectations(file: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync(join(root, file), 'utf8').split('\n')) {
    if (!line.startsWith('#')) break;
    if (line.startsWith('# expect: ')) out.push(line.slice('# expect: '.length));
  }
  return out;
}

/** Everything under runs/ (null when there is no runs/ folder), to prove validate writes nothing. */
function runsListing(): string[] | null {
  const dir = join(root, 'runs');
  return existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).sort() : null;
}

interface PerFile {
  out: string[];
  err: string[];
  /** Exit status when the fixture had to be run on its own. */
  status?: number | null;
}

let combined: CliResult;
let runsBefore: string[] | null;
let runsAfter: string[] | null;
const unattributed: string[] = [];
let ranAlone = false;
const perFile = new Map<string, PerFile>();

function owner(line: string): string | undefined {
  return fixtures.find((f) => line.startsWith(`${f}:`));
}

before(() => {
  runsBefore = runsListing();
  combined = cli('validate', ...fixtures);
  runsAfter = runsListing();
  for (const f of fixtures) perFile.set(f, { out: [], err: [] });
  for (const [stream, text] of [
    ['out', combined.stdout],
    ['err', combined.stderr],
  ] as const) {
    for (const line of lines(text)) {
      const f = owner(line);
      if (f) perFile.get(f)![stream].push(line);
      else unattributed.push(line);
    }
  }
  // A crash on one fixture (an internal error, a usage error) stops the combined run; run each
  // fixture alone then, so every failure shows against the fixture that causes it.
  if (unattributed.length || (combined.status !== 1 && combined.status !== 0)) {
    ranAlone = true;
    for (const f of fixtures) {
      const r = cli('validate', f);
      perFile.set(f, { out: lines(r.stdout), err: lines(r.stderr), status: r.status });
    }
  }
});

test('the fixture corpus is large enough and every fixture states its expected output', () => {
  assert.ok(fixtures.length >= 45, `only ${fixtures.length} fixtures`);
  for (const f of fixtures) {
    assert.match(f, /\/\d{2,3}-[a-z0-9-]+\.yaml$/, `${f}: name it NN-short-name.yaml`);
    assert.ok(expectations(f).length > 0, `${f}: no "# expect:" line`);
  }
});

test('validate over every fixture at once: exit 1, nothing on stdout, every stderr line names its file', () => {
  assert.deepEqual(unattributed, [], 'stderr lines that belong to no fixture');
  assert.equal(combined.stdout, '');
  assert.equal(combined.status, 1);
  assert.equal(ranAlone, false);
});

test('validate writes nothing: runs/ is the same before and after', () => {
  assert.deepEqual(runsAfter, runsBefore);
});

for (const file of fixtures) {
  test(file, () => {
    const got = perFile.get(file)!;
    assert.deepEqual(got.out, [], 'stdout: the spec must not pass');
    assert.deepEqual(got.err, expectations(file));
    if (got.status !== undefined) assert.equal(got.status, 1, 'exit status');
  });
}

test('one invalid file on its own: exit 1, its issues on stderr, nothing on stdout', () => {
  const file = fixtures.find((f) => f.includes('/09-')) ?? fixtures[0];
  const r = cli('validate', file);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  assert.deepEqual(lines(r.stderr), expectations(file));
});

test('the shipped quickstart spec is valid: exit 0, one ok line', () => {
  const before = runsListing();
  const r = cli('validate', 'experiments/quickstart.yaml');
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'experiments/quickstart.yaml: ok (3 variants)\n');
  assert.equal(r.status, 0);
  assert.deepEqual(runsListing(), before);
});

// Inputs too big or too odd for a fixture file, generated here: each must fail fast with bounded,
// located output, and none may stop `validate` from checking the files after it.
test('hostile inputs: every file is reported, each briefly and located, and the files after them are still checked', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tunespec-hostile-'));
  try {
    const file = (name: string, text: string | Buffer): string => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    const keys = 2000;
    const unknown = file('unknown-keys.yaml', `name: x\n${Array.from({ length: keys }, (_, i) => `unknown_key_${i}: ${i}\n`).join('')}`);
    const huge = file('huge.yaml', `name: x\ndescription: ${'y'.repeat(1024 * 1024)}\n`);
    const binary = file('binary.yaml', Buffer.from('name: x\nab\u0000cd\n', 'latin1'));
    const longName = file('long-name.yaml', `name: ${'n'.repeat(100_000)}!\n`);
    const deep = file('deep.yaml', `name: x\n${Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}k${i}:\n`).join('')}`);
    const r = cli('validate', unknown, huge, binary, longName, deep, 'experiments/quickstart.yaml');
    assert.equal(r.status, 1);
    assert.equal(r.stdout, 'experiments/quickstart.yaml: ok (3 variants)\n');
    const err = lines(r.stderr);
    const of = (f: string) => err.filter((l) => l.startsWith(`${f}:`));
    assert.deepEqual(
      err.filter((l) => ![unknown, huge, binary, longName, deep].some((f) => l.startsWith(`${f}:`))),
      [],
      'every stderr line names its file',
    );

    // 4 missing properties and 2,000 unknown keys: the first 50 in line order, then a count of the rest.
    const listed = of(unknown);
    assert.equal(listed.length, 51);
    assert.deepEqual(listed.slice(0, 5), [
      `${unknown}:1:1: spec: missing required property "base_model"`,
      `${unknown}:1:1: spec: missing required property "head"`,
      `${unknown}:1:1: spec: missing required property "data"`,
      `${unknown}:1:1: spec: missing required property "training"`,
      `${unknown}:2:1: spec: unknown property "unknown_key_0"; allowed: name, description, task, tags, base_model, head, freeze, lora, data, validation, training, export, checkpoint, generation, tracking, register, sweep`,
    ]);
    assert.equal(listed[49], `${unknown}:47:1: spec: unknown property "unknown_key_45"; allowed: name, description, task, tags, base_model, head, freeze, lora, data, validation, training, export, checkpoint, generation, tracking, register, sweep`);
    assert.equal(listed[50], `${unknown}: and ${keys + 4 - 50} more issues (the first 50 are listed)`);

    assert.deepEqual(of(huge), [`${huge}:1:1: spec: the file has 1048598 characters, more than the 1048576 a spec may have; is it a spec?`]);
    assert.deepEqual(of(binary), [`${binary}:2:3: spec: this is not a text file (it holds a NUL byte here); a spec is YAML text`]);
    // A 100,000-character value is quoted as its first 59 characters and an ellipsis, never echoed whole.
    assert.equal(of(longName).length, 5);
    assert.equal(
      of(longName)[4],
      `${longName}:1:7: name: "${'n'.repeat(59)}…" is not a valid name: use 1 to 64 letters, digits, "_", "." or "-", starting with a letter or digit`,
    );
    assert.deepEqual(of(deep), [`${deep}:66:68: YAML: the spec nests more than 64 levels deep here; a spec needs a few`]);
    assert.ok(r.stderr.length < 20_000, `stderr is ${r.stderr.length} characters`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
