import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/**
 * What every completed text-classification variant folder holds, as `tunespec run` leaves it:
 * a completed status, `model.onnx` checked against tfjs on the 16 validation rows, and the base's
 * tokenizer files beside it (once: not again under model/). Returns the variant's final metrics.
 */
export function assertTextVariant(dir: string, baseFolder: string): { val_loss: number; val_accuracy: number } {
  const status = JSON.parse(readFileSync(join(dir, 'status.json'), 'utf8'));
  assert.equal(status.status, 'completed');
  assert.equal(status.onnx.skipped, undefined);
  assert.equal(status.onnx.parity.rows, 16);
  assert.ok(status.onnx.parity.maxAbsDiff < 1e-4, `max |diff| ${status.onnx.parity.maxAbsDiff}`);
  assert.equal(status.onnx.parity.argmaxAgreement, 1);
  assert.equal(existsSync(join(dir, 'model.onnx')), true);
  // Beside model.onnx, so the ONNX export is usable with the files next to it; model/ reads them there too.
  for (const f of TOKENIZER_FILES) {
    assert.deepEqual(readFileSync(join(dir, f)), readFileSync(join(baseFolder, f)), f);
    assert.equal(existsSync(join(dir, 'model', f)), false, `model/${f} is not a second copy`);
  }
  const { metrics } = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  assert.ok(Number.isFinite(metrics.val_loss), `val_loss ${metrics.val_loss}`);
  return metrics;
}
