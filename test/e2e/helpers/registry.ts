/**
 * A real CNCF distribution registry (`/usr/bin/docker-registry serve`, 2.8) on 127.0.0.1 with
 * a free port, filesystem storage in its own temp dir, and every log line (the combined-format
 * access log on stdout and the request log on stderr) in one file for assertions.
 *
 * What the log shows: method, path, status and size per request, plus `http.request.*`
 * fields. It does NOT show request headers, so a Range request is visible only as status 206
 * (and, at log level debug, as a `filesystem.Reader(path, offset)` line). Use the scripted
 * proxy (proxy.ts) to assert on headers.
 *
 * Auth modes: 'none'; 'htpasswd' (bcrypt file made with `htpasswd -Bbn`, Basic challenge);
 * 'token' (Bearer challenge, realm served by an in-process issuer, see token-issuer.ts).
 * Only plain HTTP: loopback registries are HTTP for docker, skopeo (--tls-verify=false) and
 * ferry alike.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { runOk, startDaemon, tail, type Daemon } from './processes.js';
import { makeTempDir, type TempDir } from './tmp.js';
import { startTokenIssuer, type Credentials, type TokenIssuer } from './token-issuer.js';
import { waitFor } from './wait.js';

export type { Credentials } from './token-issuer.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';
export const TOKEN_SERVICE = 'ferry-test';
export const TOKEN_ISSUER = 'ferry-test-issuer';

export interface RegistryOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  /** Accounts for htpasswd or token auth. */
  users?: Credentials[];
  /** Token auth only: anonymous callers may pull. */
  anonymousPull?: boolean;
  /** TLS is not supported by this helper; the option exists to say so. */
  tls?: false;
  /**
   * 'info' (default), 'debug' (adds storage driver calls such as reader offsets) or 'warn'
   * (the access log only, as the benchmark wants it: less for the registry to write).
   */
  logLevel?: 'info' | 'debug' | 'warn';
  /** `storage.delete.enabled` (default true); false makes manifest DELETEs answer 405 UNSUPPORTED. */
  deletes?: boolean;
  /** Accept manifests whose foreign (non-distributable) layers have URLs matching this regexp. */
  allowForeignUrls?: string;
}

export interface Registry {
  /** "127.0.0.1:PORT" */
  readonly host: string;
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  /** Temp dir holding config.yml, registry.log, data/ (and auth files). */
  readonly dir: string;
  readonly logFile: string;
  readonly auth: 'none' | 'htpasswd' | 'token';
  readonly users: Credentials[];
  /** The token issuer, in token mode. */
  readonly issuer: TokenIssuer | undefined;
  /** Everything the registry logged so far. */
  logText(): string;
  /** Stops the registry (and issuer) and deletes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts a registry and waits until `GET /v2/` answers (200, or 401 with auth). Throws, with
 * the log tail, when it does not start within 30 s.
 */
export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const auth = opts.auth ?? 'none';
  const users = opts.users ?? [];
  const tmp = makeTempDir(`registry-${auth}`);
  let issuer: TokenIssuer | undefined;
  try {
    const validation = opts.allowForeignUrls ? `validation:\n  manifests:\n    urls:\n      allow:\n        - ${JSON.stringify(opts.allowForeignUrls)}\n` : '';
    const authYaml = (await authConfig(auth, users, opts, tmp, (i) => (issuer = i))) + validation;
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const daemon = await launch(tmp, port, authYaml, opts.logLevel ?? 'info', opts.deletes ?? true);
      if (daemon) return handle(tmp, port, auth, users, issuer, daemon);
      if (attempt >= 3) throw new Error(`registry: could not bind a port after ${attempt} attempts`);
    }
  } catch (err) {
    await issuer?.stop();
    tmp.remove();
    throw err;
  }
}

/** Starts the process; returns null when the port was taken meanwhile (caller retries). */
async function launch(tmp: TempDir, port: number, authYaml: string, level: string, deletes: boolean): Promise<Daemon | null> {
  const config = tmp.join('config.yml');
  writeFileSync(config, configYaml(tmp.join('data'), port, level, deletes) + authYaml);
  const daemon = startDaemon(REGISTRY_BIN, ['serve', config], { logFile: tmp.join('registry.log') });
  try {
    await waitFor(() => probe(`http://127.0.0.1:${port}/v2/`), {
      what: `registry on 127.0.0.1:${port}`,
      abort: () => (daemon.running() ? null : 'exited before it was ready'),
      describe: () => tail(daemon.log()),
    });
    return daemon;
  } catch (err) {
    await daemon.stop(2000);
    if (/address already in use/.test(daemon.log())) return null;
    throw err;
  }
}

async function probe(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200 || res.status === 401;
}

function handle(
  tmp: TempDir,
  port: number,
  auth: Registry['auth'],
  users: Credentials[],
  issuer: TokenIssuer | undefined,
  daemon: Daemon,
): Registry {
  const host = `127.0.0.1:${port}`;
  return {
    host,
    url: `http://${host}`,
    dir: tmp.path,
    logFile: daemon.logFile,
    auth,
    users,
    issuer,
    logText: () => daemon.log(),
    async stop() {
      await daemon.stop();
      await issuer?.stop();
      tmp.remove();
    },
  };
}

function configYaml(dataDir: string, port: number, level: string, deletes: boolean): string {
  return [
    'version: 0.1',
    'log:',
    `  level: ${level}`,
    '  formatter: text',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${dataDir}`,
    '  delete:',
    `    enabled: ${deletes}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: ferry-e2e-secret',
    'health:',
    '  storagedriver:',
    '    enabled: false',
    '',
  ].join('\n');
}

async function authConfig(
  auth: Registry['auth'],
  users: Credentials[],
  opts: RegistryOptions,
  tmp: TempDir,
  setIssuer: (i: TokenIssuer) => void,
): Promise<string> {
  if (auth === 'none') return '';
  if (users.length === 0 && !(auth === 'token' && opts.anonymousPull)) {
    throw new Error(`registry: auth '${auth}' needs at least one user`);
  }
  if (auth === 'htpasswd') {
    const lines = await Promise.all(users.map((u) => runOk('htpasswd', ['-Bbn', u.user, u.password])));
    writeFileSync(tmp.join('htpasswd'), lines.map((l) => l.trim()).join('\n') + '\n');
    return ['auth:', '  htpasswd:', '    realm: ferry-test', `    path: ${tmp.join('htpasswd')}`, ''].join('\n');
  }
  const issuer = await startTokenIssuer({
    dir: tmp.path,
    users,
    anonymousPull: opts.anonymousPull ?? false,
    service: TOKEN_SERVICE,
    issuer: TOKEN_ISSUER,
  });
  setIssuer(issuer);
  return [
    'auth:',
    '  token:',
    `    realm: ${issuer.realm}`,
    `    service: ${TOKEN_SERVICE}`,
    `    issuer: ${TOKEN_ISSUER}`,
    `    rootcertbundle: ${join(tmp.path, 'issuer-cert.pem')}`,
    '',
  ].join('\n');
}
