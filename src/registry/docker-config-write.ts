/**
 * Writing credentials the way `docker login` does (docker/cli cli/config/configfile): through the
 * configured credential helper (`credHelpers[host]`, else `credsStore`) when there is one,
 * otherwise as `auths[key].auth` = base64(user:password) in config.json. The file is written
 * atomically with mode 0600 and keeps every other key as it was.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { ioError } from '../fs/io-error.js';
import { configKey, dockerConfigDir, helperFor, readDockerConfig, runCredentialHelper } from './credentials.js';

async function save(dir: string, cfg: object): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw ioError('creating the Docker config directory', dir, err, 'set DOCKER_CONFIG to a writable directory');
  });
  const file = join(dir, 'config.json');
  await writeFileAtomic(file, `${JSON.stringify(cfg, null, '\t')}\n`, { mode: 0o600, what: 'the Docker config', hint: 'set DOCKER_CONFIG to a writable directory' });
}

/** Stores credentials for `host`; resolves where they went ("credential helper X" or the file). */
export async function storeCredential(host: string, username: string, password: string, dir = dockerConfigDir()): Promise<string> {
  const cfg = await readDockerConfig(dir);
  const key = configKey(host);
  const helper = helperFor(cfg, host);
  if (helper) {
    await runCredentialHelper(helper, 'store', JSON.stringify({ ServerURL: key, Username: username, Secret: password }));
    cfg.auths = { ...cfg.auths, [key]: {} };
    await save(dir, cfg);
    return `docker-credential-${helper}`;
  }
  cfg.auths = { ...cfg.auths, [key]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } };
  await save(dir, cfg);
  return join(dir, 'config.json');
}

/** Removes credentials for `host`; resolves false when there were none. */
export async function eraseCredential(host: string, dir = dockerConfigDir()): Promise<boolean> {
  const cfg = await readDockerConfig(dir);
  const key = configKey(host);
  const helper = helperFor(cfg, host);
  let found = false;
  if (helper) {
    found = await runCredentialHelper(helper, 'erase', key).then(() => true, () => false);
  }
  if (cfg.auths && key in cfg.auths) {
    delete cfg.auths[key];
    found = true;
    await save(dir, cfg);
  }
  return found;
}
