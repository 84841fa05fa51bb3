/**
 * One access log line per request on stderr: client, method, path, status, bytes sent and
 * milliseconds, plus the user name when --htpasswd is on and why an answer failed or was cut.
 * Never a credential: the Authorization header is not logged and the query is reduced to `ns`.
 */
export interface AccessEntry {
  time: string;
  client: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  user?: string;
  error?: string;
}

/** The logged form of a request URL: its path, and `?ns=` when present. */
export function loggedPath(rawUrl: string | undefined): string {
  const url = new URL(rawUrl ?? '/', 'http://ferry.invalid');
  const ns = url.searchParams.get('ns');
  return `${url.pathname}${ns ? `?ns=${encodeURIComponent(ns)}` : ''}`;
}

/** Formats an entry: a JSON line with `json`, else `CLIENT METHOD PATH STATUS BYTES MS`. */
export function formatAccess(e: AccessEntry, json: boolean): string {
  if (json) return JSON.stringify(e);
  const who = e.user ? ` user=${e.user}` : '';
  const why = e.error ? ` error="${e.error.replace(/"/g, "'")}"` : '';
  return `${e.time} ${e.client} ${e.method} ${e.path} ${e.status} ${e.bytes}B ${e.ms}ms${who}${why}`;
}
