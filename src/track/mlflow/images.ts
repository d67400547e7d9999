import { createHash } from 'node:crypto';

/** The run tag MLflow's `log_image` sets, which tells the UI to look for logged images. */
export const LOGGED_IMAGES_TAG = 'mlflow.loggedImages';

/**
 * Where MLflow's `log_image(key=…, step=…)` puts an image and its compressed copy, which is where
 * the run page's image grid and the run comparison's image view look:
 * `images/<key, / as ~>+step+<step>+timestamp+<ms>+<uuid>.png` and the same `+compressed`. The
 * uuid comes from `seed` (an attempt and the key), so a re-upload names the same files.
 */
export function loggedImagePaths(key: string, step: number, timestamp: number, seed: string): { full: string; compressed: string } {
  const h = createHash('sha256').update(seed).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  const base = `images/${key.replace(/\//g, '~')}+step+${step}+timestamp+${timestamp}+${uuid}`;
  return { full: `${base}.png`, compressed: `${base}+compressed.png` };
}
