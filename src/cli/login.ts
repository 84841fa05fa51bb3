/**
 * `ferry login HOST -u USER --password-stdin` and `ferry logout HOST`: credentials in the Docker
 * config, as `docker login` writes them, checked against the registry before they are stored.
 */
import { FerryError, UsageError } from '../errors.js';
import { RegistryClient } from '../registry/client.js';
import { eraseCredential, storeCredential } from '../registry/docker-config-write.js';
import { Transport } from '../registry/transport.js';
import { makeOutput } from './common.js';
import type { LoginArgs, LogoutArgs } from './commands.js';
import { normaliseRegistryHost } from '../registry/credentials.js';


async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export async function runLogin(a: LoginArgs): Promise<number> {
  if (!a['password-stdin']) throw new UsageError('ferry login reads the password from standard input only', 'echo "$PASSWORD" | ferry login HOST -u USER --password-stdin');
  const host = normaliseRegistryHost(a.host);
  // Made first, so retries of the check below are shown.
  const out = makeOutput(a);
  const password = await readStdin();
  if (!password) throw new UsageError('no password on standard input');
  const transport = new Transport({ insecureRegistries: a['insecure-registry'], ...(a['ca-file'] ? { caFile: a['ca-file'] } : {}) });
  try {
    const client = new RegistryClient(host, transport, undefined, async () => ({ username: a.username, password }));
    // Any authenticated request proves the credentials: a token for the catalog scope, or /v2/ itself.
    const res = await client.send({ method: 'GET', path: '/v2/', scopes: [], accept: [200, 401], what: `logging in to ${host}` });
    await res.body.dump();
    if (res.status === 401) throw new FerryError('AUTH', `logging in to ${host}: the registry refused the credentials for ${a.username}`, { hint: 'check the user name and password' });
    const where = await storeCredential(host, a.username, password);
    out.info(`login succeeded for ${a.username} at ${host} (stored in ${where})`);
    return 0;
  } finally {
    await transport.close();
  }
}


export async function runLogout(a: LogoutArgs): Promise<number> {
  const host = normaliseRegistryHost(a.host);
  const found = await eraseCredential(host);
  makeOutput(a).info(found ? `removed credentials for ${host}` : `no credentials stored for ${host}`);
  return 0;
}
