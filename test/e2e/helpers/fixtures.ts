/**
 * Test images built with real tools (docker import, the classic docker builder, docker push,
 * docker manifest), never with ferry, and pushed to an open registry:
 *
 * - test/busybox:1  one layer: /bin/busybox (busybox-static) and symlinks sh, echo, cat, ls,
 *                   sha256sum; CMD prints "hello from busybox".
 * - test/app:1      FROM busybox + /app/hello.txt + /app/random.bin (4 MiB of random bytes,
 *                   its own ~4 MiB gzip layer); CMD prints the text and sha256sum of the bin.
 * - test/multi:1    a Docker manifest list with linux/amd64 and linux/arm64 images (both built
 *                   FROM scratch with `docker build --platform`, so each config names its own
 *                   architecture), made with `docker manifest create/annotate/push`.
 *
 * Digests are what the registry reports (skopeo inspect --raw, hashed), not what docker says.
 */
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes, createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Dockerd } from './dockerd.js';
import { runOk } from './processes.js';
import { copyImage, rawManifest, sha256 } from './skopeo.js';
import type { Credentials } from './token-issuer.js';

export const BUSYBOX_OUTPUT = 'hello from busybox';
export const APP_TEXT = 'hello from app';

/** One image (or index) as the registry stores it. `ref` is host/repo:tag. */
export interface ImageFixture {
  /** Repository path without host, e.g. "test/busybox". */
  repo: string;
  tag: string;
  ref: string;
  /** sha256 of the raw manifest the registry serves for `ref`. */
  digest: string;
  /** Layer digests in order (empty for an index). */
  layers: string[];
}

export interface Fixtures {
  busybox: ImageFixture;
  app: ImageFixture & { randomSha256: string; bigLayer: string };
  multi: ImageFixture & { amd64: string; arm64: string };
}

/** Builds and pushes the fixtures to `host` (an open registry). Throws on any tool failure. */
export async function buildFixtures(dockerd: Dockerd, host: string, workDir: string): Promise<Fixtures> {
  mkdirSync(workDir, { recursive: true });
  const busybox = await buildBusybox(dockerd, host, workDir);
  const app = await buildApp(dockerd, host, workDir, busybox.ref);
  const multi = await buildMulti(dockerd, host, workDir);
  return { busybox, app, multi };
}

/** `fixture` as it is named on another registry host (same repo and tag). */
export function refOn(host: string, fixture: ImageFixture): string {
  return `${host}/${fixture.repo}:${fixture.tag}`;
}

/**
 * Copies every fixture to `host` with skopeo (all platforms, bytes unchanged) and checks that
 * the registry there reports the same digests. Throws when a digest differs.
 */
export async function copyFixtures(fx: Fixtures, host: string, destCreds?: Credentials): Promise<void> {
  for (const f of [fx.busybox, fx.app, fx.multi]) {
    const dst = refOn(host, f);
    await copyImage(f.ref, dst, destCreds ? { destCreds } : {});
    const got = sha256(await rawManifest(dst, destCreds));
    if (got !== f.digest) throw new Error(`copying ${f.ref} to ${dst} changed its digest: ${f.digest} -> ${got}`);
  }
}

async function buildBusybox(dockerd: Dockerd, host: string, workDir: string): Promise<ImageFixture> {
  const rootfs = join(workDir, 'busybox-rootfs');
  mkdirSync(join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'echo', 'cat', 'ls', 'sha256sum']) symlinkSync('busybox', join(rootfs, 'bin', applet));
  const tarball = join(workDir, 'busybox-rootfs.tar');
  await runOk('tar', ['-C', rootfs, '--owner=0', '--group=0', '-cf', tarball, '.']);
  const ref = `${host}/test/busybox:1`;
  await dockerd.dockerOk([
    'import', '--change', `CMD ["/bin/sh","-c","echo ${BUSYBOX_OUTPUT}"]`, tarball, ref,
  ]);
  return push(dockerd, ref);
}

async function buildApp(
  dockerd: Dockerd,
  host: string,
  workDir: string,
  base: string,
): Promise<Fixtures['app']> {
  const ctx = join(workDir, 'app');
  mkdirSync(ctx, { recursive: true });
  const random = randomBytes(4 * 1024 * 1024);
  writeFileSync(join(ctx, 'random.bin'), random);
  writeFileSync(join(ctx, 'hello.txt'), `${APP_TEXT}\n`);
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      `FROM ${base}`,
      'COPY hello.txt /app/hello.txt',
      'COPY random.bin /app/random.bin',
      'CMD ["/bin/sh","-c","cat /app/hello.txt; sha256sum /app/random.bin"]',
      '',
    ].join('\n'),
  );
  const ref = `${host}/test/app:1`;
  await dockerd.dockerOk(['build', '--quiet', '-t', ref, ctx]);
  const image = await push(dockerd, ref);
  const manifest = JSON.parse(await rawManifest(ref)) as { layers: { digest: string; size: number }[] };
  const big = [...manifest.layers].sort((a, b) => b.size - a.size)[0];
  if (!big) throw new Error(`${ref} has no layers`);
  return { ...image, randomSha256: createHash('sha256').update(random).digest('hex'), bigLayer: big.digest };
}

async function buildMulti(dockerd: Dockerd, host: string, workDir: string): Promise<Fixtures['multi']> {
  const ref = `${host}/test/multi:1`;
  const digests: Record<string, string> = {};
  for (const arch of ['amd64', 'arm64']) {
    const ctx = join(workDir, `multi-${arch}`);
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'arch.txt'), `${arch}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY arch.txt /arch.txt\n');
    const archRef = `${host}/test/multi:${arch}`;
    await dockerd.dockerOk(['build', '--quiet', '--platform', `linux/${arch}`, '-t', archRef, ctx]);
    digests[arch] = (await push(dockerd, archRef)).digest;
  }
  const amd64Ref = `${host}/test/multi:amd64`;
  const arm64Ref = `${host}/test/multi:arm64`;
  await dockerd.dockerOk(['manifest', 'create', '--insecure', ref, '--amend', amd64Ref, '--amend', arm64Ref]);
  await dockerd.dockerOk(['manifest', 'annotate', '--os', 'linux', '--arch', 'arm64', ref, arm64Ref]);
  await dockerd.dockerOk(['manifest', 'push', '--insecure', '--purge', ref]);
  const index = JSON.parse(await rawManifest(ref)) as {
    manifests: { digest: string; platform?: { architecture?: string } }[];
  };
  const byArch = (a: string) => index.manifests.find((m) => m.platform?.architecture === a)?.digest;
  if (byArch('amd64') !== digests.amd64 || byArch('arm64') !== digests.arm64) {
    throw new Error(`${ref}: index does not list the pushed manifests: ${JSON.stringify(index)}`);
  }
  return {
    repo: 'test/multi',
    tag: '1',
    ref,
    digest: sha256(await rawManifest(ref)),
    layers: [],
    amd64: digests.amd64!,
    arm64: digests.arm64!,
  };
}

/** Pushes `ref` with docker and reads back what the registry reports. */
async function push(dockerd: Dockerd, ref: string): Promise<ImageFixture> {
  await dockerd.dockerOk(['push', '--quiet', ref]);
  const raw = await rawManifest(ref);
  const slash = ref.indexOf('/');
  const colon = ref.lastIndexOf(':');
  const manifest = JSON.parse(raw) as { layers?: { digest: string }[] };
  return {
    repo: ref.slice(slash + 1, colon),
    tag: ref.slice(colon + 1),
    ref,
    digest: sha256(raw),
    layers: (manifest.layers ?? []).map((l) => l.digest),
  };
}
