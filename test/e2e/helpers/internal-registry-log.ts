/**
 * What a real registry says happened, as an oracle for push tests: the combined-format access
 * log lines of distribution 2.8 (`"METHOD /path?query HTTP/1.1" STATUS SIZE`), read from a
 * mark so each test sees only its own requests; and the catalog and tag list over the API.
 */
import type { Credentials, Registry } from './registry.js';

export interface AccessLine {
  method: string;
  /** Path with query, as requested. */
  url: string;
  status: number;
}

const LINE = /"([A-Z]+) (\S+) HTTP\/1\.[01]" (\d{3}) /;

/** The current end of the registry's log; pass it to `accessLog` to see only later requests. */
export function logMark(reg: Registry): number {
  return reg.logText().length;
}

/** Access log lines written after `mark` (default: all), in order. */
export function accessLog(reg: Registry, mark = 0): AccessLine[] {
  return reg
    .logText()
    .slice(mark)
    .split('\n')
    .flatMap((l) => {
      const m = LINE.exec(l);
      return m ? [{ method: m[1]!, url: m[2]!, status: Number(m[3]) }] : [];
    });
}

/** Requests that write to the registry: blob uploads (POST/PATCH/PUT), manifest PUTs, DELETEs. */
export function writes(lines: AccessLine[]): AccessLine[] {
  return lines.filter((l) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(l.method));
}

/** Manifest PUTs among `lines`. */
export function manifestPuts(lines: AccessLine[]): AccessLine[] {
  return lines.filter((l) => l.method === 'PUT' && /^\/v2\/.+\/manifests\//.test(l.url));
}

/** Formats lines for an assertion message. */
export function showLines(lines: AccessLine[]): string {
  return lines.map((l) => `${l.method} ${l.url} ${l.status}`).join('\n');
}

function basic(creds?: Credentials): Record<string, string> {
  return creds ? { authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}` } : {};
}

/** `GET /v2/_catalog` of an open or htpasswd registry: the repositories it holds. */
export async function catalog(reg: Registry, creds?: Credentials): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/_catalog?n=1000`, { headers: basic(creds) });
  if (res.status !== 200) throw new Error(`GET ${reg.url}/v2/_catalog: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { repositories: string[] | null }).repositories ?? [];
}

/** Tags of `repo` on an open or htpasswd registry ([] when the repository is unknown). */
export async function tags(reg: Registry, repo: string, creds?: Credentials): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`, { headers: basic(creds) });
  if (res.status === 404) return [];
  if (res.status !== 200) throw new Error(`GET ${reg.url}/v2/${repo}/tags/list: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { tags: string[] | null }).tags ?? [];
}
