/**
 * Credentials from the Docker CLI configuration (docker/cli config/configfile, credentials/):
 * `$DOCKER_CONFIG/config.json` (default ~/.docker/config.json), `credHelpers[host]` before
 * `credsStore`, then `auths[key].auth` (base64 user:password) or `identitytoken`. Docker Hub's
 * key is `https://index.docker.io/v1/`; legacy `https://host/v1/` keys match by host name.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FerryError, describe } from '../errors.js';
import { DOCKER_HUB } from '../reference/parse-reference.js';

export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth refresh token (docker `identitytoken`, helper Username `<token>`). */
  identityToken?: string;
}

export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

export const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

/** The directory of the Docker config: $DOCKER_CONFIG or ~/.docker. */
export function dockerConfigDir(): string {
  return process.env.DOCKER_CONFIG || join(homedir(), '.docker');
}

/** The key a host is stored under in `auths`. */
export function configKey(host: string): string {
  return host === DOCKER_HUB ? DOCKER_HUB_KEY : host;
}

/** Reads the Docker config; an absent file is an empty config, a broken one an error. */
export async function readDockerConfig(dir = dockerConfigDir()): Promise<DockerConfig> {
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new FerryError('AUTH', `reading ${file}: ${describe(err)}`, { cause: err });
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (err) {
    throw new FerryError('AUTH', `reading ${file}: not valid JSON`, { cause: err, hint: 'fix or remove the Docker config file' });
  }
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
    throw new FerryError('AUTH', `reading ${file}: not a JSON object`, { hint: 'fix or remove the Docker config file' });
  }
  return cfg as DockerConfig;
}

/**
 * A registry host from what users and config files write: `https://index.docker.io/v1/`,
 * `registry-1.docker.io` and `index.docker.io` are Docker Hub (`docker.io`); scheme and path go.
 */
export function normaliseRegistryHost(s: string): string {
  // Host names are case-insensitive (RFC 4343): LOCALHOST:5000 and localhost:5000 are one registry.
  const stripped = s.trim().replace(/^https?:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  return stripped === 'index.docker.io' || stripped === 'registry-1.docker.io' ? DOCKER_HUB : stripped;
}

/** The value for `host` in a map keyed by host (or config key), host names compared case-insensitively. */
function byHost<T>(map: Record<string, T> | undefined, host: string): T | undefined {
  if (!map) return undefined;
  const h = normaliseRegistryHost(host);
  return map[configKey(h)] ?? map[host] ?? Object.entries(map).find(([k]) => normaliseRegistryHost(k) === h)?.[1];
}

/** The credential helper for a host: `credHelpers` (by config key or host), else `credsStore`. */
export function helperFor(cfg: DockerConfig, host: string): string | undefined {
  return byHost(cfg.credHelpers, host) ?? cfg.credsStore;
}

/** Runs `docker-credential-<helper> <action>` with `input` on stdin; resolves stdout. */
export function runCredentialHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, [action], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let errOut = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (errOut += d.toString()));
    child.on('error', (err) =>
      reject(new FerryError('AUTH', `running docker-credential-${helper}: ${describe(err)}`, { cause: err, hint: `install docker-credential-${helper} or remove it from the Docker config` })),
    );
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new FerryError('AUTH', `docker-credential-${helper} ${action} failed: ${(out + errOut).trim() || `exit ${code}`}`));
    });
    child.stdin.end(input);
  });
}

/** Looks up credentials for a registry host; undefined when there are none. */
export async function lookupCredential(host: string, config?: DockerConfig): Promise<Credential | undefined> {
  const cfg = config ?? (await readDockerConfig());
  const key = configKey(normaliseRegistryHost(host));
  const helper = helperFor(cfg, host);
  if (helper) {
    try {
      const out = await runCredentialHelper(helper, 'get', key);
      let parsed: { Username?: string; Secret?: string };
      try {
        parsed = JSON.parse(out) as typeof parsed;
      } catch (err) {
        throw new FerryError('AUTH', `docker-credential-${helper} get printed something that is not JSON`, { cause: err, hint: `check the credential helper docker-credential-${helper}` });
      }
      if (parsed.Username === '<token>') return { identityToken: parsed.Secret ?? '' };
      if (parsed.Secret) return { username: parsed.Username ?? '', password: parsed.Secret };
    } catch (err) {
      if (!/credentials not found/i.test((err as Error).message)) throw err;
    }
  }
  const auths = cfg.auths ?? {};
  const entry = byHost(auths, host);
  if (!entry) return undefined;
  if (entry.identitytoken) return { identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i < 0) throw new FerryError('AUTH', `the Docker config entry for ${key} has a malformed auth field`);
    return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  return undefined;
}
