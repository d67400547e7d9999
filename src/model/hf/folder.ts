import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from '../../errors.ts';
import { cacheRoot } from '../../engine/feature-cache.ts';
import { httpDownload, type DownloadResult } from '../../net/http-download.ts';
import { HttpError } from '../../net/http-transfer.ts';
import { httpSettings, type HttpSettings } from '../../net/http-settings.ts';
import { redactUrl } from '../../net/redact.ts';
import { WEIGHTS_FILE, WEIGHTS_INDEX } from './weights.ts';

/**
 * Where a Hugging Face model folder lives: a local folder (relative to the spec, or file://), an
 * http(s) base URL whose files sit under it, or `hf://<org>/<name>[@revision]`, fetched as the Hub
 * serves it (`<endpoint>/<repo>/resolve/<revision>/<file>`). Remote folders land in a local
 * content-addressed cache and resolve to a local folder, so everything after this reads files.
 */
export type HfSource = { kind: 'local'; path: string } | { kind: 'url'; base: string } | { kind: 'hub'; repo: string; revision: string };

const HUB = /^hf:\/\/([A-Za-z0-9][\w.-]*(?:\/[A-Za-z0-9][\w.-]*)?)(?:@([^\s@]+))?$/;

export function parseHfSource(source: string, specDir: string): HfSource {
  if (/^hf:\/\//i.test(source)) {
    const m = HUB.exec(source);
    if (!m) throw new ModelError(`${source} is not a Hub reference: write hf://<org>/<name> or hf://<org>/<name>@<revision>`, source);
    return { kind: 'hub', repo: m[1], revision: m[2] ?? 'main' };
  }
  if (/^https?:\/\//i.test(source)) return { kind: 'url', base: source.endsWith('/') ? source : `${source}/` };
  if (/^file:\/\//i.test(source)) return { kind: 'local', path: fileURLToPath(source) };
  return { kind: 'local', path: isAbsolute(source) ? source : resolve(specDir, source) };
}

export function describeHfSource(s: HfSource): string {
  if (s.kind === 'local') return s.path;
  if (s.kind === 'url') return redactUrl(s.base);
  return `hf://${s.repo}@${s.revision}`;
}

/** The model cache: TUNESPEC_CACHE_DIR/hub when set (the feature cache's folder), else the XDG cache. */
export function modelCacheDir(env: NodeJS.ProcessEnv): string {
  return join(cacheRoot(env), 'hub');
}

export interface ResolveOptions {
  /** HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, the cache folder and TUNESPEC_HTTP_TIMEOUT/RETRIES are read from here. */
  env: NodeJS.ProcessEnv;
}

export interface ResolvedFolder {
  /** A local folder holding the model's files. */
  folder: string;
  /** The source as messages show it (no credentials). */
  source: string;
  /** sha256 of each file, by name: the model's identity for variant ids and cache keys. */
  files: Record<string, string>;
}

/** Optional beside the required config.json, tokenizer.json and weights. */
const OPTIONAL_FILES = ['tokenizer_config.json', 'special_tokens_map.json'];

interface Manifest {
  files: Record<string, { sha256: string; etag: string | null }>;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function localFolder(path: string): Promise<ResolvedFolder> {
  if (!(await stat(path).then((s) => s.isDirectory(), () => false))) throw new ModelError(`${path} is not a folder (a Hugging Face model folder holds config.json, model.safetensors, tokenizer.json)`, path);
  for (const f of ['config.json', 'tokenizer.json']) {
    if (!(await exists(join(path, f)))) throw new ModelError(`${path} is not a Hugging Face model folder: it has no ${f}`, path);
  }
  if (!(await exists(join(path, WEIGHTS_FILE))) && !(await exists(join(path, WEIGHTS_INDEX)))) {
    throw new ModelError(`${path} has neither ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX}`, path);
  }
  const files: Record<string, string> = {};
  for (const f of ['config.json', 'tokenizer.json', WEIGHTS_FILE, WEIGHTS_INDEX, ...OPTIONAL_FILES]) {
    const bytes = await readFile(join(path, f)).catch(() => null);
    if (bytes) files[f] = createHash('sha256').update(bytes).digest('hex');
  }
  return { folder: path, source: path, files };
}

/** A remote folder: each file's URL, and the headers that go with it (a Hub token). */
interface Remote {
  url(file: string): string;
  headers: Record<string, string>;
  /** A commit id never changes, so a complete cached copy needs no request. */
  immutable: boolean;
}

function remoteOf(s: Exclude<HfSource, { kind: 'local' }>, env: NodeJS.ProcessEnv): Remote {
  if (s.kind === 'url') {
    // A signed base URL (a storage SAS token, say) signs every file under it: keep its query on each.
    const url = (f: string) => Object.assign(new URL(f, s.base), { search: new URL(s.base).search }).toString();
    return { url, headers: {}, immutable: false };
  }
  const endpoint = (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '');
  const token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN;
  return {
    url: (f) => `${endpoint}/${s.repo}/resolve/${encodeURIComponent(s.revision)}/${f}`,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    immutable: /^[0-9a-f]{40}$/.test(s.revision),
  };
}

/** The cache's key for a source: its location without credentials (user info and query left out of the hash input too). */
function sourceKey(s: Exclude<HfSource, { kind: 'local' }>, env: NodeJS.ProcessEnv): string {
  const id = s.kind === 'url' ? redactUrl(s.base) : `${(env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, '')}/${s.repo}@${s.revision}`;
  return createHash('sha256').update(id).digest('hex').slice(0, 32);
}

/** One file of a remote folder into `dest`; a refusal says whether a token was sent or is needed. */
async function fetchInto(
  remote: Remote,
  file: string,
  dest: string,
  opts: { what: string; etag?: string | null; optional: boolean; settings: HttpSettings },
  shown: string,
): Promise<DownloadResult> {
  try {
    return await httpDownload(remote.url(file), dest, { ...opts, headers: remote.headers });
  } catch (err) {
    if (!(err instanceof HttpError)) throw err;
    const refused = err.status === 401 || err.status === 403;
    const hint = !refused ? '' : remote.headers.Authorization ? ' (the token was refused)' : ' (a private or gated repository needs HF_TOKEN)';
    throw new ModelError(err.message + hint, shown);
  }
}

async function readManifest(path: string): Promise<Manifest | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Fetch a remote folder's files into the cache: blobs/<sha256> holds each file once, and
 * snapshots/<digest of the file list> is an immutable folder of links to them, made under a
 * temporary name and renamed, so a reader never sees a half-written snapshot. refs/<source> keeps
 * each file's etag, so a second resolve asks the server only whether anything changed.
 */
async function remoteFolder(s: Exclude<HfSource, { kind: 'local' }>, opts: ResolveOptions): Promise<ResolvedFolder> {
  const cache = modelCacheDir(opts.env);
  const shown = describeHfSource(s);
  const refPath = join(cache, 'refs', `${sourceKey(s, opts.env)}.json`);
  const known = await readManifest(refPath);
  const snapshotOf = (m: Manifest) => join(cache, 'snapshots', createHash('sha256').update(JSON.stringify(Object.entries(m.files).map(([f, e]) => [f, e.sha256]).sort())).digest('hex').slice(0, 32));
  const remote = remoteOf(s, opts.env);
  const cached = known && (await exists(snapshotOf(known))) ? known : null;
  const offline = ['1', 'true', 'yes'].includes(String(opts.env.HF_HUB_OFFLINE ?? '').toLowerCase());
  if (cached && (remote.immutable || offline)) return done(cached);
  if (offline) throw new ModelError(`${shown} is not in the model cache (${cache}) and HF_HUB_OFFLINE is set`, shown);

  await mkdir(join(cache, 'blobs'), { recursive: true });
  const settings = httpSettings(opts.env);
  const manifest: Manifest = { files: {} };
  const fetchFile = async (file: string, optional: boolean): Promise<boolean> => {
    const tmp = join(cache, 'blobs', `.tmp-${randomBytes(6).toString('hex')}`);
    const before = cached?.files[file];
    const r = await fetchInto(remote, file, tmp, { what: `${file} of ${shown}`, etag: before?.etag, optional, settings }, shown);
    if (r.status === 'missing') return false;
    if (r.status === 'not-modified') {
      manifest.files[file] = before!;
      return true;
    }
    const blob = join(cache, 'blobs', r.sha256);
    if (await exists(blob)) await rm(tmp, { force: true });
    else await rename(tmp, blob);
    manifest.files[file] = { sha256: r.sha256, etag: r.etag };
    return true;
  };
  await fetchFile('config.json', false);
  await fetchFile('tokenizer.json', false);
  if (!(await fetchFile(WEIGHTS_FILE, true))) {
    if (!(await fetchFile(WEIGHTS_INDEX, true))) throw new ModelError(`${shown} has neither ${WEIGHTS_FILE} nor ${WEIGHTS_INDEX}`, shown);
    const index = JSON.parse(await readFile(join(cache, 'blobs', manifest.files[WEIGHTS_INDEX].sha256), 'utf8').catch(() => '{}'));
    const shards = [...new Set(Object.values((index.weight_map ?? {}) as Record<string, string>))];
    for (const shard of shards) {
      if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard)) throw new ModelError(`${WEIGHTS_INDEX} of ${shown} names a shard ${JSON.stringify(shard)} that is not a plain file name`, shown);
      await fetchFile(shard, false);
    }
  }
  for (const f of OPTIONAL_FILES) await fetchFile(f, true);

  const snapshot = snapshotOf(manifest);
  if (!(await exists(snapshot))) {
    const tmp = `${snapshot}.tmp-${randomBytes(6).toString('hex')}`;
    await mkdir(tmp, { recursive: true });
    for (const [file, e] of Object.entries(manifest.files)) await link(join(cache, 'blobs', e.sha256), join(tmp, file));
    await rename(tmp, snapshot).catch(async (err) => {
      // Another process made the same snapshot first: theirs is identical.
      await rm(tmp, { recursive: true, force: true });
      if (!(await exists(snapshot))) throw err;
    });
  }
  await mkdir(join(cache, 'refs'), { recursive: true });
  const refTmp = `${refPath}.tmp-${randomBytes(6).toString('hex')}`;
  await writeFile(refTmp, JSON.stringify(manifest, null, 2));
  await rename(refTmp, refPath);
  return done(manifest);

  function done(m: Manifest): ResolvedFolder {
    return { folder: snapshotOf(m), source: shown, files: Object.fromEntries(Object.entries(m.files).map(([f, e]) => [f, e.sha256])) };
  }
}

/** The local folder a base_model.source names, fetching and caching a remote one. */
export async function resolveHfFolder(source: string, specDir: string, opts: ResolveOptions): Promise<ResolvedFolder> {
  const s = parseHfSource(source, specDir);
  return s.kind === 'local' ? localFolder(s.path) : remoteFolder(s, opts);
}
