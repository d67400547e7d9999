import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readImageFolder } from '../../src/data/readers/image-folder.ts';
import { resizeBilinearInto } from '../../src/data/readers/image-ops.ts';
import { jpegBytes, pngBytes, tempDir, write } from './fixtures.ts';

const RED_HALF_ALPHA = () => [255, 0, 0, 128];
const BLUE = () => [0, 0, 255, 255];

async function mixedFolder(): Promise<string> {
  const root = await tempDir();
  await write(join(root, 'cat', 'a.png'), pngBytes(4, 4, RED_HALF_ALPHA));
  await write(join(root, 'cat', 'b.png'), pngBytes(3, 5, RED_HALF_ALPHA));
  await write(join(root, 'cat', '.DS_Store'), 'junk');
  // A JPEG with a .png name: the decoder is chosen by magic bytes.
  await write(join(root, 'dog', 'c.png'), jpegBytes(8, 6, BLUE));
  await write(join(root, 'dog', 'd.jpg'), jpegBytes(5, 5, BLUE));
  await write(join(root, 'README.txt'), 'not a class');
  return root;
}

function near(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} not within ${tolerance} of ${expected}`);
}

test('readImageFolder decodes mixed PNG/JPEG, drops alpha and resizes to height×width×3', async () => {
  const raw = await readImageFolder(await mixedFolder(), { height: 2, width: 3, channels: 3 });
  assert.deepEqual(raw.exampleShape, [2, 3, 3]);
  assert.deepEqual(raw.labels, ['cat', 'cat', 'dog', 'dog']);
  assert.equal(raw.values.length, 4 * 2 * 3 * 3);
  for (let i = 0; i < 2 * 6; i++) {
    assert.deepEqual(Array.from(raw.values.subarray(3 * i, 3 * i + 3)), [255, 0, 0], 'PNG pixels are pure red, alpha ignored');
  }
  for (let i = 2 * 6; i < 4 * 6; i++) {
    const [r, g, b] = raw.values.subarray(3 * i, 3 * i + 3);
    near(r!, 0, 4, 'jpeg red');
    near(g!, 0, 4, 'jpeg green');
    near(b!, 255, 4, 'jpeg blue');
  }
});

test('readImageFolder converts to one luminance channel', async () => {
  const raw = await readImageFolder(await mixedFolder(), { height: 4, width: 4, channels: 1 });
  assert.deepEqual(raw.exampleShape, [4, 4, 1]);
  assert.equal(raw.values.length, 4 * 16);
  near(raw.values[0]!, 0.299 * 255, 1e-3, 'red luminance');
  near(raw.values[3 * 16]!, 0.114 * 255, 2, 'blue luminance');
});

test('readImageFolder honours a label filter and a per-class limit before decoding', async () => {
  const root = await mixedFolder();
  await write(join(root, 'dog', 'z.txt'), 'not an image, but beyond the limit so never read');
  const raw = await readImageFolder(root, { height: 1, width: 1, channels: 1 }, { keepLabel: (l) => l === 'dog', limitPerClass: 2 });
  assert.deepEqual(raw.labels, ['dog', 'dog']);
});

test('readImageFolder names a file that is neither PNG nor JPEG', async () => {
  const root = await mixedFolder();
  const bad = await write(join(root, 'dog', 'notes.txt'), 'hello');
  await assert.rejects(readImageFolder(root, { height: 2, width: 2, channels: 3 }), {
    name: 'DataError',
    message: `${bad}: not a PNG or JPEG image (checked by content)`,
  });
});

test('resizeBilinearInto uses half-pixel centres and clamps at the edges', () => {
  const out = new Float32Array(4);
  resizeBilinearInto(Float32Array.from([0, 255]), 1, 2, 1, 1, 4, out, 0);
  assert.deepEqual(Array.from(out), [0, 63.75, 191.25, 255]);
  const down = new Float32Array(1);
  resizeBilinearInto(Float32Array.from([0, 10, 20, 30]), 2, 2, 1, 1, 1, down, 0);
  assert.deepEqual(Array.from(down), [15]);
  const same = new Float32Array(6);
  resizeBilinearInto(Float32Array.from([1, 2, 3, 4, 5, 6]), 1, 2, 3, 1, 2, same, 0);
  assert.deepEqual(Array.from(same), [1, 2, 3, 4, 5, 6]);
});
