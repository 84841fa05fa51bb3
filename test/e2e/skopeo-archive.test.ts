/**
 * Archives ferry did not write, from skopeo: `skopeo copy docker://... docker-archive:` writes
 * a legacy docker-save layout whose layer directories link to top-level `<hex>.tar` files.
 * ferry's ls, verify, push and load must read it (push builds a manifest and says the digest
 * differs), and still refuse any other link.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageIds, removeAllImages } from './helpers/internal-docker.js';
import { ferryIn, startServers, type Servers } from './helpers/internal-suite.js';
import { runOk } from './helpers/processes.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('skopeo-archive');
let servers: Servers;
let archive: string;
let appRef: string;

beforeAll(async () => {
  servers = await startServers(tmp.path, [{}]);
  appRef = servers.fx.app.ref;
  archive = join(tmp.path, 'skopeo-app.tar');
  await runOk('skopeo', ['copy', '--src-tls-verify=false', `docker://${appRef}`, `docker-archive:${archive}:${appRef}`]);
  const listing = await runOk('tar', ['-tvf', archive]);
  // The shape this suite is about: a layer directory linking to a top-level <hex>.tar.
  expect(listing).toMatch(/[a-f0-9]{64}\/layer\.tar -> \.\.\/[a-f0-9]{64}\.tar/);
});

afterAll(async () => {
  await servers?.stop();
});

describe('a skopeo docker-archive', () => {
  it('ferry ls and ferry verify --deep read it', async () => {
    const ls = await ferryIn(tmp.path, ['ls', '--json', archive]);
    expect(ls.code, ls.report).toBe(0);
    const doc = JSON.parse(ls.stdout) as { kind: string; images: { name: string; layers: number }[] };
    expect(doc.kind).toBe('docker-legacy');
    expect(doc.images.map((i) => i.name)).toEqual([appRef]);
    const v = await ferryIn(tmp.path, ['verify', '--deep', archive]);
    expect(v.code, v.report).toBe(0);
    expect(v.stderr).toMatch(/ok \(docker-legacy/);
  });

  it('ferry push builds a manifest, warns that the digest differs, and the image pulls and runs', async () => {
    const target = servers.targets[0]!.host;
    const r = await ferryIn(tmp.path, ['push', archive, '--to', `${target}/from-skopeo`]);
    expect(r.code, r.report).toBe(0);
    expect(r.stderr).toMatch(/differs from the upstream digest/);
    const pulled = `${target}/from-skopeo/${servers.fx.app.repo}:${servers.fx.app.tag}`;
    const d = servers.dockerd;
    await removeAllImages(d);
    const pull = await d.docker(['pull', pulled]);
    expect(pull.code, pull.stderr).toBe(0);
    const out = await d.docker(['run', '--rm', '--network', 'none', pulled]);
    expect(out.code, out.stderr).toBe(0);
  });

  it('ferry load loads it into dockerd', async () => {
    const d = servers.dockerd;
    await removeAllImages(d);
    const r = await ferryIn(tmp.path, ['load', archive], { env: d.env });
    expect(r.code, r.report).toBe(0);
    expect(r.stderr).toContain(`loaded ${appRef}`);
    expect((await imageIds(d)).length).toBeGreaterThan(0);
    const out = await d.docker(['run', '--rm', '--network', 'none', appRef]);
    expect(out.code, out.stderr).toBe(0);
  });

  it('a link of that shape pointing anywhere else is still refused', async () => {
    const dir = join(tmp.path, 'evil');
    await runOk('mkdir', ['-p', join(dir, 'a'.repeat(64))]);
    await runOk('ln', ['-s', '../../etc/passwd', join(dir, 'a'.repeat(64), 'layer.tar')]);
    await runOk('tar', ['-C', dir, '-cf', join(tmp.path, 'evil.tar'), '.']);
    const r = await ferryIn(tmp.path, ['verify', join(tmp.path, 'evil.tar')]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toMatch(/layer\.tar" is rejected: it is a symlink/);
  });
});
