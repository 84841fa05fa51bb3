import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FerryError } from '../errors.js';
import { configKey, lookupCredential, readDockerConfig, type DockerConfig } from './credentials.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');

let binDir: string;
let configDir: string;

// Fake credential helpers (docker-credential-helpers protocol): `get` reads the server URL on
// stdin and prints JSON; the echo helper puts what it read into the secret so tests can see it.
const helpers: Record<string, string> = {
  echo: `#!/bin/sh
[ "$1" = get ] || { echo "unexpected action $1" >&2; exit 3; }
IFS= read -r server || true
printf '{"ServerURL":"%s","Username":"helper-user","Secret":"secret-for-%s"}\\n' "$server" "$server"
`,
  token: `#!/bin/sh
IFS= read -r server || true
printf '{"ServerURL":"%s","Username":"<token>","Secret":"refresh-%s"}\\n' "$server" "$server"
`,
  notfound: `#!/bin/sh
cat >/dev/null
echo "credentials not found in native keychain"
exit 1
`,
  broken: `#!/bin/sh
cat >/dev/null
echo "error getting credentials - err: exit status 1, out: keychain locked" >&2
exit 1
`,
  garbage: `#!/bin/sh
cat >/dev/null
echo "this is not json"
`,
  empty: `#!/bin/sh
cat >/dev/null
printf '{"ServerURL":"","Username":"","Secret":""}\\n'
`,
};

beforeAll(async () => {
  binDir = await mkdtemp(join(tmpdir(), 'ferry-cred-bin-'));
  for (const [name, script] of Object.entries(helpers)) {
    const file = join(binDir, `docker-credential-${name}`);
    await writeFile(file, script);
    await chmod(file, 0o755);
  }
});

afterAll(async () => {
  await rm(binDir, { recursive: true, force: true });
});

beforeEach(async () => {
  configDir = await mkdtemp(join(tmpdir(), 'ferry-docker-config-'));
  vi.stubEnv('DOCKER_CONFIG', configDir);
  vi.stubEnv('PATH', `${binDir}${delimiter}${process.env.PATH ?? ''}`);
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(configDir, { recursive: true, force: true });
});

const writeConfig = (cfg: DockerConfig | string): Promise<void> =>
  writeFile(join(configDir, 'config.json'), typeof cfg === 'string' ? cfg : JSON.stringify(cfg));

async function rejection(p: Promise<unknown>): Promise<FerryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError);
    return err as FerryError;
  }
  throw new Error('expected a rejection');
}

describe('configKey', () => {
  it('uses the legacy index URL for Docker Hub and host[:port] otherwise', () => {
    expect(configKey('docker.io')).toBe('https://index.docker.io/v1/');
    expect(configKey('registry.example.com:5000')).toBe('registry.example.com:5000');
  });
});

describe('lookupCredential from $DOCKER_CONFIG/config.json', () => {
  it('decodes auths[host].auth (base64 user:password), keeping colons in the password', async () => {
    await writeConfig({ auths: { 'registry.example.com': { auth: b64('alice:pa:ss') } } });
    expect(await lookupCredential('registry.example.com')).toEqual({ username: 'alice', password: 'pa:ss' });
  });

  it('finds Docker Hub credentials under https://index.docker.io/v1/ for host docker.io', async () => {
    await writeConfig({ auths: { 'https://index.docker.io/v1/': { auth: b64('hubuser:hubpass') } } });
    expect(await lookupCredential('docker.io')).toEqual({ username: 'hubuser', password: 'hubpass' });
  });

  it('compares host names case-insensitively, both ways', async () => {
    await writeConfig({ auths: { 'Registry.Example.com:5000': { auth: b64('u:p') }, 'https://LEGACY.example.com/v1/': { auth: b64('l:q') } } });
    expect(await lookupCredential('registry.example.com:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await lookupCredential('REGISTRY.EXAMPLE.COM:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await lookupCredential('legacy.example.com')).toEqual({ username: 'l', password: 'q' });
  });

  it('matches a legacy https://host:5000/v1/ key by host name', async () => {
    await writeConfig({ auths: { 'https://host:5000/v1/': { auth: b64('u:p') } } });
    expect(await lookupCredential('host:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await lookupCredential('host')).toBeUndefined();
    expect(await lookupCredential('host:5001')).toBeUndefined();
  });

  it('returns an identitytoken as an identity token', async () => {
    await writeConfig({ auths: { 'registry.example.com': { auth: b64('<token>:'), identitytoken: 'refresh-123' } } });
    expect(await lookupCredential('registry.example.com')).toEqual({ identityToken: 'refresh-123' });
  });

  it('accepts separate username and password fields', async () => {
    await writeConfig({ auths: { 'r.example': { username: 'bob', password: 'pw' } } });
    expect(await lookupCredential('r.example')).toEqual({ username: 'bob', password: 'pw' });
  });

  it('returns undefined for a host without an entry, an empty entry, or no config file', async () => {
    expect(await lookupCredential('registry.example.com')).toBeUndefined();
    await writeConfig({ auths: { 'other.example': { auth: b64('a:b') }, 'empty.example': {} } });
    expect(await lookupCredential('registry.example.com')).toBeUndefined();
    expect(await lookupCredential('empty.example')).toBeUndefined();
  });

  it('rejects an auth field without a colon with AUTH', async () => {
    await writeConfig({ auths: { 'r.example': { auth: b64('nocolon') } } });
    const e = await rejection(lookupCredential('r.example'));
    expect(e.code).toBe('AUTH');
    expect(e.message).toBe('the Docker config entry for r.example has a malformed auth field');
  });

  it('rejects a malformed config.json with AUTH naming the file', async () => {
    await writeConfig('{"auths": {');
    const e = await rejection(lookupCredential('r.example'));
    expect(e.code).toBe('AUTH');
    expect(e.message).toBe(`reading ${join(configDir, 'config.json')}: not valid JSON`);
    const e2 = await rejection(readDockerConfig(configDir));
    expect(e2.code).toBe('AUTH');
  });

  it.each(['null', '"text"', '42'])('rejects a config.json holding %s (not an object) with AUTH', async (text) => {
    await writeConfig(text);
    const e = await rejection(lookupCredential('r.example'));
    expect(e.code).toBe('AUTH');
    expect(e.message).toContain(join(configDir, 'config.json'));
  });
});

describe('lookupCredential through credential helpers', () => {
  it('asks credHelpers[host] with the server key on stdin', async () => {
    await writeConfig({ credHelpers: { 'registry.example.com': 'echo' } });
    expect(await lookupCredential('registry.example.com')).toEqual({ username: 'helper-user', password: 'secret-for-registry.example.com' });
  });

  it('asks credsStore with https://index.docker.io/v1/ for Docker Hub', async () => {
    await writeConfig({ credsStore: 'echo', auths: { 'https://index.docker.io/v1/': {} } });
    expect(await lookupCredential('docker.io')).toEqual({ username: 'helper-user', password: 'secret-for-https://index.docker.io/v1/' });
  });

  it('credHelpers wins over credsStore and auths', async () => {
    await writeConfig({ credsStore: 'notfound', credHelpers: { 'r.example': 'echo' }, auths: { 'r.example': { auth: b64('from:auths') } } });
    expect(await lookupCredential('r.example')).toEqual({ username: 'helper-user', password: 'secret-for-r.example' });
  });

  it('a helper answering Username <token> gives an identity token', async () => {
    await writeConfig({ credsStore: 'token' });
    expect(await lookupCredential('r.example')).toEqual({ identityToken: 'refresh-r.example' });
  });

  it('falls back to auths when the helper says "credentials not found"', async () => {
    await writeConfig({ credsStore: 'notfound', auths: { 'r.example': { auth: b64('fallback:pw') } } });
    expect(await lookupCredential('r.example')).toEqual({ username: 'fallback', password: 'pw' });
  });

  it('falls back to auths when the helper returns an empty secret', async () => {
    await writeConfig({ credsStore: 'empty', auths: { 'r.example': { auth: b64('fallback:pw') } } });
    expect(await lookupCredential('r.example')).toEqual({ username: 'fallback', password: 'pw' });
  });

  it('reports any other helper failure as AUTH instead of silently using auths', async () => {
    await writeConfig({ credsStore: 'broken', auths: { 'r.example': { auth: b64('fallback:pw') } } });
    const e = await rejection(lookupCredential('r.example'));
    expect(e.code).toBe('AUTH');
    expect(e.message).toMatch(/^docker-credential-broken get failed: .*keychain locked/);
  });

  it('reports a helper that is not installed as AUTH with an install hint', async () => {
    await writeConfig({ credsStore: 'definitely-not-installed' });
    const e = await rejection(lookupCredential('r.example'));
    expect(e.code).toBe('AUTH');
    expect(e.message).toMatch(/^running docker-credential-definitely-not-installed: /);
    expect(e.hint).toBe('install docker-credential-definitely-not-installed or remove it from the Docker config');
  });

  it('reports a helper that prints something other than JSON as AUTH naming the helper', async () => {
    await writeConfig({ credsStore: 'garbage' });
    const e = await rejection(lookupCredential('r.example'));
    expect(e.code).toBe('AUTH');
    expect(e.message).toMatch(/docker-credential-garbage/);
  });

  it('uses a config passed in instead of reading the file', async () => {
    await writeConfig('not json at all');
    expect(await lookupCredential('r.example', { auths: { 'r.example': { auth: b64('x:y') } } })).toEqual({ username: 'x', password: 'y' });
  });
});
