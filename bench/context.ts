/**
 * What scenarios share within one bench run, each made once and on first use: the fixtures,
 * the registry they are pushed to, the bundles and oci-archives made from them, the private
 * Docker engine. Registries and dockerd are the e2e harness's (test/e2e/helpers).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from '../test/e2e/helpers/dockerd.js';
import { runOk } from '../test/e2e/helpers/processes.js';
import { startRegistry, type Registry } from '../test/e2e/helpers/registry.js';
import { imageSize, type Options } from './args.js';
import { bigImage, type BigImage } from './fixtures/big-image.js';
import { hugeImage, type HugeImage } from './fixtures/huge-layer.js';
import { pushEach, pushLayout, pushSynced } from './fixtures/push.js';
import { FORTY, scaleRecipe, smallImages, type SmallImages } from './fixtures/small-images.js';
import { log, since } from './log.js';

/** Small images pushed, and the two manifest files that list them (ferry's and skopeo sync's). */
export interface PushedImages {
  refs: string[];
  registry: Registry;
  /** ferry's manifest file (docs/manifest-file.md). */
  manifestYaml: string;
  /** skopeo sync's --src yaml file. */
  syncYaml: string;
  images: SmallImages;
}

export interface Context {
  readonly opts: Options;
  /** This run's temp dir (bench/.work/run-*). */
  readonly tmp: string;
  /** The ferry under test (bin/ferry or --ferry). */
  readonly ferry: string;
  /** The big image at `size` (default: --size). */
  fixture(size?: 'full' | 'small'): Promise<BigImage>;
  huge(): Promise<HugeImage>;
  /** The registry the fixtures are pushed to (started once). */
  registry(): Promise<Registry>;
  /** The tag of `layout` pushed to the registry as `repo` (once); resolves the reference. */
  pushed(fixture: { layout: string; tag: string; dir: string }, repo: string): Promise<string>;
  /** The image `ref` as a ferry bundle (`ferry save`, once): the input of push, load and verify. */
  bundle(ref: string): Promise<string>;
  /** The image `ref` as an oci-archive (skopeo, once): skopeo's push input. */
  ociArchive(ref: string): Promise<string>;
  docker(): Promise<Dockerd>;
  /** The forty small images of the export scenarios, pushed. */
  forty(): Promise<PushedImages>;
  /** `count` small images of the scale scenario, pushed. */
  scale(count: number): Promise<PushedImages>;
  /** Runs `stop` at close (a server a scenario started in setup). */
  atClose(stop: () => Promise<void>): void;
  /** Stops what was started (engine, registry). */
  close(): Promise<void>;
}

/** Manifest files listing `refs` (all on `reg`, tag 1). */
export function manifestFiles(refs: readonly string[], reg: Registry, bundle: string): { manifestYaml: string; syncYaml: string } {
  const manifestYaml = [`bundle: ${bundle}`, `images:`, ...refs.map((r) => `  - ${r}`), `registries:`, `  ${JSON.stringify(reg.host)}: { insecure: true }`, ''].join('\n');
  const repos = refs.map((r) => r.slice(reg.host.length + 1).replace(/:1$/, ''));
  const syncYaml = [`${JSON.stringify(reg.host)}:`, `  tls-verify: false`, `  images:`, ...repos.map((r) => `    ${r}: ["1"]`), ''].join('\n');
  return { manifestYaml, syncYaml };
}

export function createContext(opts: Options, tmp: string, ferry: string): Context {
  const once = new Map<string, Promise<unknown>>();
  const lazy = <T>(key: string, make: () => Promise<T>): Promise<T> => {
    if (!once.has(key)) once.set(key, make());
    return once.get(key) as Promise<T>;
  };
  const stops: Array<() => Promise<void>> = [];
  const node = process.execPath;
  const ctx: Context = {
    opts,
    tmp,
    ferry,
    fixture: (size = imageSize(opts.size)) => lazy(`fixture|${size}`, () => bigImage(size)),
    huge: () => lazy('huge', () => hugeImage(opts.hugeGiB)),
    registry: () =>
      lazy('registry', async () => {
        const reg = await startRegistry({ logLevel: 'warn' });
        stops.push(() => reg.stop());
        log(`bench: registry at ${reg.host} (storage ${reg.dir})`);
        return reg;
      }),
    pushed: (fixture, repo) => lazy(`pushed|${fixture.dir}|${repo}`, async () => pushLayout(fixture.layout, fixture.tag, await ctx.registry(), repo)),
    bundle: (ref) =>
      lazy(`bundle|${ref}`, async () => {
        const dir = join(tmp, 'shared', `bundle-${ref.replace(/[^a-z0-9]+/gi, '-')}`);
        await mkdir(dir, { recursive: true });
        const t0 = Date.now();
        await runOk(node, [ferry, 'save', ref, '-o', join(dir, 'big.tar.gz'), '--cache-dir', join(dir, 'cache'), '-q'], { timeoutMs: 3600_000 });
        await rm(join(dir, 'cache'), { recursive: true, force: true });
        log(`bench: made the bundle ${join(dir, 'big.tar.gz')} (ferry save) in ${since(t0)} s`);
        return join(dir, 'big.tar.gz');
      }),
    ociArchive: (ref) =>
      lazy(`oci-archive|${ref}`, async () => {
        const dir = join(tmp, 'shared', `oci-archive-${ref.replace(/[^a-z0-9]+/gi, '-')}`);
        await mkdir(dir, { recursive: true });
        const out = join(dir, 'big-oci.tar');
        await runOk('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci-archive:${out}`], { timeoutMs: 3600_000 });
        return out;
      }),
    docker: () =>
      lazy('docker', async () => {
        const t0 = Date.now();
        const engine = await startDockerd();
        stops.push(() => engine.stop());
        log(`bench: private dockerd up at ${engine.env.DOCKER_HOST} in ${since(t0)} s`);
        return engine;
      }),
    forty: () =>
      lazy('forty', async () => {
        const images = await smallImages(FORTY);
        const registry = await ctx.registry();
        const refs = await pushEach(images, registry, 'bench/forty');
        return { refs, registry, images, ...manifestFiles(refs, registry, 'forty') };
      }),
    scale: (count) =>
      lazy(`scale|${count}`, async () => {
        const images = await smallImages(scaleRecipe(count));
        const registry = await ctx.registry();
        const refs = await pushSynced(images, registry, `bench/scale${count}`, join(tmp, 'shared', `scale-${count}-dir`));
        await rm(join(tmp, 'shared', `scale-${count}-dir`), { recursive: true, force: true });
        return { refs, registry, images, ...manifestFiles(refs, registry, `scale${count}`) };
      }),
    atClose: (stop) => void stops.push(stop),
    async close() {
      for (const stop of stops.splice(0).reverse()) await stop().catch((err: Error) => log(`bench: stopping: ${err.message}`));
    },
  };
  return ctx;
}
