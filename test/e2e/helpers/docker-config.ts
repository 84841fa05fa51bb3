/**
 * Docker CLI config files (`$DOCKER_CONFIG/config.json`) with inline credentials, the way
 * `docker login` writes them without a credential store: `auths[host].auth` =
 * base64("user:password") (docker/cli configfile).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Credentials } from './token-issuer.js';

/** Writes `<dir>/config.json` with one `auths` entry per host; returns the file path. */
export function writeDockerConfig(dir: string, auths: Record<string, Credentials>): string {
  mkdirSync(dir, { recursive: true });
  const entries = Object.entries(auths).map(([host, c]) => [
    host,
    { auth: Buffer.from(`${c.user}:${c.password}`).toString('base64') },
  ]);
  const file = join(dir, 'config.json');
  writeFileSync(file, `${JSON.stringify({ auths: Object.fromEntries(entries) }, null, 2)}\n`, { mode: 0o600 });
  return file;
}
