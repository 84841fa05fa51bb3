/**
 * A real distribution registry (`docker-registry serve`, 2.8) for the transport tests, where
 * registry.ts does not reach: HTTPS (`http.tls.certificate` / `http.tls.key`), an IPv6 listen
 * address (`[::1]`), and a storage directory shared with another registry (so a registry on
 * [::1] serves images pushed to one on 127.0.0.1, without a pushing tool that speaks IPv6
 * references). Auth: none or htpasswd (bcrypt, made with `htpasswd -Bbn`).
 *
 * The registry only reads a shared directory here; two registry processes reading one
 * filesystem store is safe (upload purging, the only background writer, is disabled).
 */
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { runOk, startDaemon, tail, type Daemon } from './processes.js';
import { makeTempDir, type TempDir } from './tmp.js';
import type { Credentials } from './token-issuer.js';
import { waitFor } from './wait.js';

export interface TransportRegistryOptions {
  /** The address to listen on: '127.0.0.1' (default) or '::1'. */
  address?: string;
  /** Serve HTTPS with this certificate and key (PEM files). */
  tls?: { certFile: string; keyFile: string };
  /** Filesystem storage root; default a fresh `data/` in the registry's own temp dir. */
  rootDirectory?: string;
  /** htpasswd users; none means an open registry. */
  users?: Credentials[];
}

export interface TransportRegistry {
  /** host:port as written in an image reference: "127.0.0.1:PORT" or "[::1]:PORT". */
  readonly host: string;
  readonly port: number;
  /** "https://..." or "http://..." */
  readonly url: string;
  readonly dir: string;
  logText(): string;
  /** Stops the registry and deletes its temp dir (never the shared root directory). */
  stop(): Promise<void>;
}

/** Starts a registry and waits for `GET /v2/` (200 or 401). Throws with the log tail. */
export async function startTransportRegistry(opts: TransportRegistryOptions = {}): Promise<TransportRegistry> {
  const address = opts.address ?? '127.0.0.1';
  const tmp = makeTempDir(`registry-${opts.tls ? 'tls' : 'plain'}`);
  try {
    const authYaml = opts.users?.length ? await htpasswdConfig(tmp, opts.users) : '';
    for (let attempt = 1; ; attempt++) {
      const port = await freePortOn(address);
      const host = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
      const url = `${opts.tls ? 'https' : 'http'}://${host}`;
      const config = tmp.join('config.yml');
      writeFileSync(config, configYaml(opts.rootDirectory ?? tmp.join('data'), host, opts.tls) + authYaml);
      const daemon = startDaemon('/usr/bin/docker-registry', ['serve', config], { logFile: tmp.join('registry.log') });
      try {
        await waitFor(() => probe(`${url}/v2/`), {
          what: `registry on ${url}`,
          abort: () => (daemon.running() ? null : 'exited before it was ready'),
          describe: () => tail(daemon.log()),
        });
      } catch (err) {
        await daemon.stop(2000);
        if (/address already in use/.test(daemon.log()) && attempt < 3) continue;
        throw err;
      }
      return handle(tmp, host, port, url, daemon);
    }
  } catch (err) {
    tmp.remove();
    throw err;
  }
}

function handle(tmp: TempDir, host: string, port: number, url: string, daemon: Daemon): TransportRegistry {
  return {
    host,
    port,
    url,
    dir: tmp.path,
    logText: () => daemon.log(),
    async stop() {
      await daemon.stop();
      tmp.remove();
    },
  };
}

/** A port that was free on `address` a moment ago. */
function freePortOn(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, address, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Whether `GET url` answers 200 or 401 (certificates are not checked: this is a readiness probe). */
function probe(url: string): Promise<boolean> {
  const req = url.startsWith('https:') ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(url, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 || res.statusCode === 401));
    });
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', reject);
    r.end();
  });
}

function configYaml(root: string, host: string, tls: TransportRegistryOptions['tls']): string {
  return [
    'version: 0.1',
    'log:',
    '  level: info',
    '  formatter: text',
    '  accesslog:',
    '    disabled: false',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${root}`,
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: "${host}"`,
    '  secret: ferry-e2e-secret',
    ...(tls ? ['  tls:', `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`] : []),
    'health:',
    '  storagedriver:',
    '    enabled: false',
    '',
  ].join('\n');
}

async function htpasswdConfig(tmp: TempDir, users: Credentials[]): Promise<string> {
  const lines = await Promise.all(users.map((u) => runOk('htpasswd', ['-Bbn', u.user, u.password])));
  writeFileSync(tmp.join('htpasswd'), lines.map((l) => l.trim()).join('\n') + '\n');
  return ['auth:', '  htpasswd:', '    realm: ferry-test', `    path: ${tmp.join('htpasswd')}`, ''].join('\n');
}
