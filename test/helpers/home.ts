import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Tests never touch the user's home. `npm test` (scripts/test.sh) points HOME at an empty folder
 * and fails if anything lands there; a test file run on its own gets its own empty HOME here. The
 * XDG folders are dropped so that they, too, derive from it, for this process and every child
 * (the CLI, MLflow, Redis).
 */
export const TEST_HOME = process.env.TUNESPEC_TEST_HOME || mkdtempSync(join(tmpdir(), 'tunespec-home-'));
process.env.HOME = process.env.TUNESPEC_TEST_HOME = TEST_HOME;
for (const key of ['XDG_CACHE_HOME', 'XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']) delete process.env[key];
