/** Remove user:password from a URL so it can be printed or recorded; anything unparsable is withheld whole. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '<unparsable URL>';
  }
}
