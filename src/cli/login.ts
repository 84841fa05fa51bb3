/**
 * `ferry login HOST -u USER` and `ferry logout HOST`: credentials in the Docker config, as
 * `docker login` writes them, checked against the registry before they are stored. The password
 * is asked for on the terminal with echo off (as `docker login` does), or read from standard
 * input with --password-stdin (scripts).
 */
import { FerryError, UsageError } from '../errors.js';
import { CredentialsRefusedError } from '../registry/auth.js';
import { RegistryClient } from '../registry/client.js';
import { eraseCredential, storeCredential } from '../registry/docker-config-write.js';
import { retryPolicyFromEnv } from '../registry/retry.js';
import { Transport } from '../registry/transport.js';
import { makeOutput } from './common.js';
import type { LoginArgs, LogoutArgs } from './commands.js';
import { normaliseRegistryHost } from '../registry/credentials.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/**
 * Asks for a password on the terminal: the prompt on stderr, stdin in raw mode so nothing is
 * echoed. Enter ends it; backspace and Ctrl-U edit; Ctrl-C or Ctrl-D on an empty line cancel
 * (a UsageError, exit 2). The terminal mode is restored in every case.
 */
export function promptPassword(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(chars.join(''));
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of String(chunk)) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || (ch === '\u0004' && chars.length === 0)) return finish(new UsageError('login cancelled: no password was entered'));
        if (ch === '\u0004') return finish();
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else if (ch === '\u0015') chars = [];
        else if (ch >= ' ') chars.push(ch);
      }
    };
    output.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.resume();
  });
}

/** The password: from standard input with --password-stdin, else asked for on the terminal. */
async function readPassword(a: LoginArgs): Promise<string> {
  if (a['password-stdin']) {
    const password = await readStdin();
    if (!password) throw new UsageError('no password on standard input', 'echo "$PASSWORD" | ferry login HOST -u USER --password-stdin');
    return password;
  }
  if (!process.stdin.isTTY) {
    throw new UsageError('ferry login has no password: standard input is not a terminal to ask on, and --password-stdin was not given', `pipe the password in: echo "$PASSWORD" | ferry login ${a.host} -u ${a.username} --password-stdin`);
  }
  const password = await promptPassword('Password: ');
  if (!password) throw new UsageError('no password was entered');
  return password;
}

export async function runLogin(a: LoginArgs): Promise<number> {
  const host = normaliseRegistryHost(a.host);
  // Made first, so retries of the check below are shown.
  const out = makeOutput(a);
  // Up front, before asking for anything: the CA file, FERRY_RETRY_*.
  const transport = new Transport({ insecureRegistries: a['insecure-registry'], ...(a['ca-file'] !== undefined ? { caFile: a['ca-file'] } : {}) });
  try {
    const retry = retryPolicyFromEnv();
    const password = await readPassword(a);
    const client = new RegistryClient(host, transport, retry, async () => ({ username: a.username, password }));
    const refused = (): FerryError => new FerryError('AUTH', `logging in to ${host}: the registry refused the credentials for ${a.username}`, { hint: 'check the user name and password' });
    // Any authenticated request proves the credentials: a token for the catalog scope, or /v2/ itself.
    let status: number;
    try {
      const res = await client.send({ method: 'GET', path: '/v2/', scopes: [], accept: [200, 401], what: `logging in to ${host}` });
      await res.body.dump();
      status = res.status;
    } catch (err) {
      // A token registry refuses at its token server: the same answer as a 401 from /v2/.
      if (err instanceof CredentialsRefusedError) throw refused();
      throw err;
    }
    if (status === 401) throw refused();
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
