/** URLs as they may appear in messages: no user info, no query (presigned storage URLs carry secrets there). */
export function redactUrl(u: URL | string): string {
  try {
    const url = typeof u === 'string' ? new URL(u) : u;
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return '<url>';
  }
}
