/**
 * The engine connection breaking in the middle of a load must fail the run (exit 1, an error
 * naming the engine), never end in silence with exit 0, and the engine must load nothing. A
 * scripted TCP proxy in front of the real dockerd's socket cuts the upload after 1 MiB.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageIds, removeAllImages } from './helpers/internal-docker.js';
import { ferryIn, saveBundle, startServers, type Servers } from './helpers/internal-suite.js';
import { listenEphemeral } from './helpers/ports.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('load-engine-failure');
let servers: Servers;
let bundle: string;
let proxy: Server;
let port: number;
const sockets = new Set<Socket>();

/** Forwards TCP to the engine's unix socket; a connection carrying /images/load is cut after `limit` bytes. */
function cuttingProxy(socketPath: string, limit: number): Server {
  return createServer((client) => {
    sockets.add(client);
    const upstream = connect(socketPath);
    sockets.add(upstream);
    let seen = 0;
    let loading = false;
    client.on('data', (chunk: Buffer) => {
      if (chunk.includes('/images/load')) loading = true;
      seen += chunk.length;
      if (loading && seen > limit) {
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  });
}

beforeAll(async () => {
  servers = await startServers(tmp.path);
  bundle = await saveBundle(tmp.path, 'two.tar.gz', [servers.fx.busybox.ref, servers.fx.app.ref]);
  proxy = cuttingProxy(servers.dockerd.socket, 1024 * 1024);
  port = await listenEphemeral(proxy, '127.0.0.1', 'engine proxy');
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await servers?.stop();
});

describe('ferry load when the engine connection breaks mid-upload', () => {
  it('exits 1 naming the engine, and the engine has loaded nothing', async () => {
    const d = servers.dockerd;
    await removeAllImages(d);
    const r = await ferryIn(tmp.path, ['load', bundle], { env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` } });
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toMatch(/error: .*Docker engine at tcp:\/\/127\.0\.0\.1:/);
    expect(await imageIds(d)).toEqual([]);
  });

  it('the same bundle then loads through the engine socket itself', async () => {
    const d = servers.dockerd;
    const r = await ferryIn(tmp.path, ['load', bundle], { env: d.env });
    expect(r.code, r.report).toBe(0);
    expect((await imageIds(d)).length).toBeGreaterThan(0);
  });
});
