import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tunespecAsync, writeSmallSpec } from '../helpers/cli.ts';

test('Ctrl-C marks the current variant interrupted, stops the sweep and leaves nothing half-written', async () => {
  const dir = tempDir();
  const runs = join(dir, 'runs');
  const spec = writeSmallSpec(dir, { name: 'interrupted', epochs: 200 });
  let sent = false;
  const r = await tunespecAsync(['run', spec, '--runs-dir', runs], (chunk, child) => {
    if (!sent && /epoch 1\/200/.test(chunk)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.ok(sent, r.stdout);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stdout, /0 completed, 0 skipped, 0 failed, 1 interrupted/);
  const sweepDir = join(runs, 'interrupted', readdirSync(join(runs, 'interrupted'))[0]);
  const entries = readdirSync(sweepDir);
  assert.ok(!entries.some((e) => e.startsWith('.staging')), entries.join(' '));
  const variants = entries.filter((e) => /^[0-9a-f]{12}$/.test(e));
  assert.equal(variants.length, 1, 'the second variant never started');
  const status = JSON.parse(readFileSync(join(sweepDir, variants[0], 'status.json'), 'utf8'));
  assert.equal(status.status, 'interrupted');
  assert.ok(!existsSync(join(sweepDir, variants[0], 'model')), 'no model is stored for an interrupted variant');

  // An interrupted variant does not count as done: `runs` shows it as such, and a rerun trains it.
  const listed = await tunespecAsync(['runs', spec, '--runs-dir', runs]);
  assert.match(listed.stdout, new RegExp(`^${variants[0]}\\s+lr=0.01\\s+interrupted`, 'm'));
});
