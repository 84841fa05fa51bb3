/**
 * `ferry push` when the target misbehaves: a registry that is not there fails the push once
 * (one message, one round of connection attempts, not one per image), and an upload whose
 * connection breaks mid-body is started again in a new session instead of failing the image.
 * Servers: the real registry behind a scripted proxy (transport-scripted-proxy.ts) that cuts a
 * PUT body, a closed port, and a TCP listener that drops every connection and counts them.
 * Oracles: skopeo inspect --raw and blob GETs against the registry itself.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures, ImageFixture } from './helpers/fixtures.js';
import { ferryIn, saveBundle, startServers, type Servers } from './helpers/internal-suite.js';
import { freePort, listenEphemeral } from './helpers/ports.js';
import type { Registry } from './helpers/registry.js';
import { copyImage, rawManifest, sha256 } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';
import { firstN, startScriptedProxy, type ScriptedProxy } from './helpers/transport-scripted-proxy.js';

const tmp = suiteTempDir('push-faults');
let servers: Servers;
let fx: Fixtures;
let target: Registry;
let proxy: ScriptedProxy;
/** Five images: busybox, app, the multi-arch index, and busybox under two more names. */
let five: string;
let images: ImageFixture[];

beforeAll(async () => {
  servers = await startServers(tmp.path, [{}]);
  fx = servers.fx;
  target = servers.targets[0]!;
  proxy = await startScriptedProxy(target.host);
  const copies = ['test/copy-a', 'test/copy-b'].map((repo) => ({ ...fx.busybox, repo, ref: `${servers.source.host}/${repo}:${fx.busybox.tag}` }));
  for (const c of copies) await copyImage(fx.busybox.ref, c.ref);
  images = [fx.busybox, fx.app, fx.multi, ...copies];
  five = await saveBundle(tmp.path, 'five.tar.gz', images.map((i) => i.ref), ['--platform', 'all']);
});

afterAll(async () => {
  await proxy?.stop();
  await servers?.stop();
});

interface PushReport {
  command: string;
  status: string;
  images: { source: string; status: string; error: { code: string; message: string } | null }[];
  error?: { code: string; message: string };
}

const countOf = (text: string, needle: string): number => text.split(needle).length - 1;

/** A TCP listener on 127.0.0.1 that accepts and at once closes every connection, counting them. */
async function dropEverything(): Promise<{ host: string; connections: () => number; stop: () => Promise<void> }> {
  let n = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    n++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.destroy();
  });
  const port = await listenEphemeral(server, '127.0.0.1', 'dropping listener');
  return {
    host: `127.0.0.1:${port}`,
    connections: () => n,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('ferry push to a registry that cannot be reached', () => {
  it('a closed port: exit 1, one message naming the registry, no warnings; --json still reports every image as failed', async () => {
    const host = `127.0.0.1:${await freePort()}`;
    const r = await ferryIn(tmp.path, ['push', five, '--to', `${host}/mirror`, '--json']);
    expect(r.code, r.report).toBe(1);
    // Retries are progress lines (one per attempt of the one ping), not failures.
    const lines = r.stderr.split('\n');
    expect(lines.filter((l) => / retrying in .* \(\d+\/\d+\): /.test(l)).length, r.stderr).toBeLessThanOrEqual(4);
    const naming = lines.filter((l) => l.includes(host) && !/ retrying in /.test(l));
    expect(naming, r.stderr).toHaveLength(1);
    expect(naming[0]).toMatch(/^error: /);
    expect(naming[0]).toMatch(/ECONNREFUSED|refused/);
    expect(r.stderr).not.toMatch(/warning/);
    const report = JSON.parse(r.stdout) as PushReport;
    expect(report).toMatchObject({ command: 'push', status: 'failed', error: { code: 'NETWORK' } });
    expect(report.images).toHaveLength(5);
    for (const i of report.images) expect(i, i.source).toMatchObject({ status: 'failed', error: { code: 'NETWORK' } });
  });

  it('a host that drops every connection: one round of attempts for the whole push (not one per image), one message', async () => {
    const drop = await dropEverything();
    try {
      const attempts = 3;
      const r = await ferryIn(tmp.path, ['push', five, '--to', `${drop.host}/mirror`, '--concurrency', '1'], { env: { FERRY_RETRY_ATTEMPTS: String(attempts) } });
      expect(r.code, r.report).toBe(1);
      const failures = r.stderr.split('\n').filter((l) => !/ retrying in /.test(l)).join('\n');
      expect(countOf(failures, drop.host), r.stderr).toBe(1);
      expect(r.stderr.split('\n').filter((l) => / retrying in /.test(l)).length, 'one ping\'s retries, not five images\'').toBeLessThanOrEqual(attempts - 1);
      expect(r.stderr).not.toMatch(/warning/);
      // One ping: HTTPS (given up at the first TLS failure, as the host is loopback) then
      // plain HTTP with its retries. Five images each trying again would be five times that.
      expect(drop.connections(), r.report).toBeGreaterThanOrEqual(attempts);
      expect(drop.connections(), r.report).toBeLessThanOrEqual(2 * attempts);
    } finally {
      await drop.stop();
    }
  });
});

describe('ferry push survives an upload whose connection breaks mid-body', () => {
  it('the PUT of the 4 MiB layer is cut after 1 MiB once: a new upload session sends it again, exit 0, digests unchanged', async () => {
    const layer = fx.app.bigLayer;
    const isLayerPut = (r: { method: string; url: string }): boolean =>
      r.method === 'PUT' && r.url.includes('/blobs/uploads/') && decodeURIComponent(r.url).includes(`digest=${layer}`);
    proxy.clearRequests();
    proxy.setScript(firstN(1, isLayerPut, { kind: 'cut-body', afterBytes: 1024 * 1024 }));
    try {
      const r = await ferryIn(tmp.path, ['push', five, '--to', `${proxy.host}/survive`, '--json']);
      expect(r.code, r.report).toBe(0);
      expect(r.stderr).not.toMatch(/warning/);
    } finally {
      proxy.setScript(undefined);
    }
    const puts = proxy.requests.filter(isLayerPut);
    expect(puts.map((p) => p.action), JSON.stringify(puts)).toEqual(['cut-body', 'forward']);
    expect(puts[1]!.status).toBe(201);
    // The second PUT went to another session than the one that broke.
    const session = (url: string): string => url.split('?')[0]!;
    expect(session(puts[1]!.url)).not.toBe(session(puts[0]!.url));

    for (const f of images) {
      const raw = await rawManifest(`${target.host}/survive/${f.repo}:${f.tag}`);
      expect(sha256(raw), `digest of survive/${f.repo}:${f.tag}`).toBe(f.digest);
    }
    const blob = await fetch(`http://${target.host}/v2/survive/${fx.app.repo}/blobs/${layer}`);
    expect(blob.status).toBe(200);
    expect(`sha256:${createHash('sha256').update(Buffer.from(await blob.arrayBuffer())).digest('hex')}`).toBe(layer);
  });
});
