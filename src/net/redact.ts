/**
 * Secrets a URL may carry: user:password, and the query string and fragment, where signed URLs
 * (S3's X-Amz-Signature, GCS's, a `?token=`) keep theirs.
 */
function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** Whether printing or recording `url` as it is would give something away. */
export function carriesSecrets(url: string): boolean {
  const u = parse(url);
  return !u || Boolean(u.username || u.password || u.search || u.hash);
}

/**
 * A URL fit to print or record: no user:password, no query string, no fragment; anything
 * unparsable is withheld whole.
 */
export function redactUrl(url: string): string {
  const u = parse(url);
  if (!u) return '<unparsable URL>';
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/$/, '');
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>]+/gi;

/** Text (a spec as written, a message) with every URL in it that carries secrets redacted. */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_IN_TEXT, (match) => {
    // Prose punctuation after a URL ("--queue http://host:6379: scheme …") is not part of it.
    const [, url, tail] = /^(.*?)([.,;:)\]]*)$/s.exec(match)!;
    return (carriesSecrets(url!) ? redactUrl(url!) : url!) + tail!;
  });
}

/** A parsed document (a spec) with every string that is a URL carrying secrets redacted. */
export function redactUrlsDeep<T>(value: T): T {
  if (typeof value === 'string') return (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) && carriesSecrets(value) ? redactUrl(value) : value) as T;
  if (Array.isArray(value)) return value.map(redactUrlsDeep) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactUrlsDeep(v)])) as T;
  return value;
}
