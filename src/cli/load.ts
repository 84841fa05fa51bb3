/**
 * `ferry load BUNDLE`: load a bundle into a Docker engine through the Engine API (DOCKER_HOST),
 * streaming it without a temporary copy: a ferry bundle that can be read in place (format 2,
 * or a plain tar) through the copy engine into a docker-load archive (load-copy.ts); older gzip
 * bundles and `docker save` / skopeo archives, which cannot, through the checking rewrite
 * (bundle/rewrite.ts). Per image, what the engine holds decides (unless
 * --force, which loads everything): an image it lacks is loaded; one it has (same ID, the
 * config digest) whose tag is missing or names another image is only re-tagged; one it has
 * with its tags is left alone ("already present"). The same holds for `docker save` archives,
 * which are streamed whole when any image is missing. A differential bundle (ferry.json
 * expectedLayers) loads when every layer it lacks is in a --base bundle or already in the
 * engine (load-differential.ts), and is refused otherwise. Exit 0 ok, 1 failure.
 */
import { FerryError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { dockerTag, type DockerManifestEntry, type FerryMetadata } from '../bundle/layout.js';
import { rewriteForLoad, type ExtraBlob } from '../bundle/rewrite.js';
import { differentialSources } from './load-differential.js';
import { verifyArchive } from '../bundle/verify.js';
import { DockerEngine } from '../docker-engine/engine.js';
import { setInterruptMessage } from '../process/interrupt.js';
import { parseLoadAnswer } from '../docker-engine/load-stream.js';
import { imageState, retag, type LoadStatus } from '../docker-engine/image-state.js';
import { formatPlatform, parsePlatform, platformMatches } from '../oci/platform.js';
import { makeOutput } from './common.js';
import type { Output } from './output.js';
import type { LoadArgs } from './commands.js';
import { readBundleHead } from '../bundle/head.js';
import { bundleSize } from '../bundle/volume-set.js';
import type { SeekableArchive } from '../bundle/seekable.js';
import type { LoadAnswer } from '../docker-engine/load-stream.js';
import { loadByCopy, openLoadable } from './load-copy.js';

interface Wanted {
  name: string | null;
  tag: string | null;
  config: string;
  layers: string[];
  layerDescriptors: { digest: string; size: number; mediaType: string }[];
}

/** What to load per image of a ferry bundle, from ferry.json. */
function wantedImages(meta: FerryMetadata, platform: string | undefined): Wanted[] {
  const want = platform ? parsePlatform(platform) : undefined;
  return meta.images.map((m) => {
    const p = want
      ? m.platforms.find((x) => {
          const [os, architecture, variant] = x.platform.split('/');
          return platformMatches(want, { os: os!, architecture: architecture!, ...(variant ? { variant } : {}) });
        })
      : m.platforms.find((x) => x.manifest === m.dockerLoad);
    if (!p) {
      throw new FerryError('NOT_FOUND', `${m.reference}: the bundle has no ${want ? formatPlatform(want) : 'loadable'} image (it has ${m.platforms.map((x) => x.platform).join(', ')})`, {
        hint: 'choose one of those with --platform',
      });
    }
    const tag = m.name ? dockerTag(m.name) : null;
    return { name: m.name, tag, config: p.config, layers: p.layers.map((l) => l.digest), layerDescriptors: p.layers };
  });
}

/** One image of the archive as the engine will know it: ID (config digest) and tags. */
interface Item {
  id: string;
  tags: string[];
  status?: LoadStatus;
}

const itemName = (i: Item): string => i.tags[0] ?? i.id;

/** The images of a `docker save` archive, from its manifest.json (IDs from the config names). */
function archiveItems(entries: readonly DockerManifestEntry[] | undefined): Item[] | undefined {
  if (!entries) return undefined;
  const items: Item[] = [];
  for (const e of entries) {
    const hex = /([a-f0-9]{64})(?:\.json)?$/.exec(e.Config ?? '')?.[1];
    if (!hex) return undefined;
    items.push({ id: `sha256:${hex}`, tags: e.RepoTags ?? [] });
  }
  return items;
}

/**
 * Decides per item from the engine's state: present and mistagged items get their status (and
 * their tags moved back); absent ones are returned, to be loaded.
 */
async function settle(engine: DockerEngine, items: Item[]): Promise<Item[]> {
  const absent: Item[] = [];
  for (const item of items) {
    const state = await imageState(engine, item.id, item.tags);
    if (state.kind === 'absent') absent.push(item);
    else if (state.kind === 'present') item.status = 'present';
    else {
      await retag(engine, item.id, state.tags);
      item.status = 'tagged';
    }
  }
  return absent;
}

/**
 * Streams `bundle` through the checking rewrite (rewrite.ts) into the engine: a damaged or
 * hostile entry stops the upload, and the engine, which unpacks the whole archive before
 * loading, then loads nothing. For archives that cannot be read in place (older gzip bundles,
 * `docker save` and skopeo archives). Resolves the engine's answer.
 */
async function sendRewritten(engine: DockerEngine, bundle: string, manifestJson: string | undefined, keep: Set<string> | undefined, extras: ExtraBlob[], out: Output): Promise<LoadAnswer> {
  const size = await bundleSize(bundle);
  if (size !== undefined) out.start('send', `sending ${bundle} to the engine`, size + extras.reduce((n, x) => n + x.size, 0));
  const rewritten = await rewriteForLoad(bundle, manifestJson, keep, (n) => out.progress('send', n), extras);
  let answer;
  try {
    const res = await engine.load(rewritten.stream);
    answer = await parseLoadAnswer(res.body);
  } catch (err) {
    throw (await rewritten.failure) ?? err;
  }
  const failure = await rewritten.failure;
  out.done('send', failure ? { failed: true } : {});
  out.stop();
  if (failure) throw failure;
  return answer;
}

/** An image of a loaded bundle and what happened to it. */
export type LoadedItem = Item & { status: LoadStatus };

/**
 * Loads `bundle` into `engine` by the rules of the file comment (only what the engine lacks,
 * unless `force`); returns one item per image with what happened to it. Throws ENGINE,
 * BUNDLE_FORMAT or NOT_FOUND failures; a load that fails loads nothing.
 */
export async function loadBundle(engine: DockerEngine, bundle: string, opts: { platform?: string | undefined; force: boolean; base?: readonly string[] | undefined }, out: Output): Promise<LoadedItem[]> {
  // A ferry bundle that can be read in place goes through the copy engine (load-copy.ts);
  // anything else through the checking rewrite.
  const loadable = await openLoadable(bundle);
  const meta = loadable ? loadable.metadata : (await readBundleHead(bundle)).metadata;
  const expected = new Set((meta?.images ?? []).flatMap((i) => i.expectedLayers ?? []));
  if (opts.base?.length && !expected.size) out.warn(`${bundle} is not a differential bundle: --base is not needed and not read`);
  const api = await engine.ping();
  let manifestJson: string | undefined;
  let keep: Set<string> | undefined;
  let items: Item[] | undefined;
  let extras: ExtraBlob[] = [];
  let toLoad: Wanted[] = [];
  let bases = new Map<string, SeekableArchive>();
  if (!meta) {
    // Not a ferry bundle (docker save, skopeo): its manifest.json comes last, so check the
    // whole archive first; the engine would otherwise load the images before a bad layer.
    if (opts.platform) out.warn('--platform applies to ferry bundles only; loading every image of the archive');
    const checked = await verifyArchive(bundle, false);
    if (checked.problems.length) {
      throw new FerryError('BUNDLE_FORMAT', `${bundle} failed its checks, nothing was loaded:\n  - ${checked.problems.join('\n  - ')}`, { hint: 'run `ferry verify` on it, and copy or save it again' });
    }
    items = archiveItems(checked.interpretation.docker);
    // The archive goes to the engine whole: when one image is missing, all are loaded, and
    // the engine moves every tag; the others keep the status they had before.
    if (items && !opts.force && (await settle(engine, items)).length === 0) return items as LoadedItem[];
  } else {
    const wanted = wantedImages(meta, opts.platform);
    if (expected.size) {
      // A differential bundle: the layers it lacks are found (in --base bundles or the engine)
      // before anything is tagged or sent; one found nowhere refuses the whole load.
      const absent = [];
      for (const w of wanted) if (opts.force || (await engine.imageId(w.config)) !== w.config) absent.push(w);
      const found = await differentialSources(bundle, absent.map((w) => ({ label: w.tag ?? w.config, config: w.config, layers: w.layers })), expected, opts.base ?? [], engine);
      extras = found.extras;
      bases = found.bases;
      if (found.fromBase) out.info(`differential bundle: ${found.fromBase} layer${found.fromBase === 1 ? '' : 's'} it builds on come${found.fromBase === 1 ? 's' : ''} from --base`);
      if (found.fromEngine) out.info(`differential bundle: the engine already holds the other ${found.fromEngine} layer${found.fromEngine === 1 ? '' : 's'} it builds on`);
    }
    items = wanted.map((w) => ({ id: w.config, tags: w.tag ? [w.tag] : [] }));
    const absent = opts.force ? items : await settle(engine, items);
    if (absent.length === 0) return items as LoadedItem[];
    toLoad = wanted.filter((w) => absent.some((i) => i.id === w.config));
    const entries: DockerManifestEntry[] = toLoad.map((w) => ({ Config: blobPath(w.config), RepoTags: w.tag ? [w.tag] : [], Layers: w.layers.map(blobPath) }));
    manifestJson = JSON.stringify(entries);
    keep = new Set(toLoad.flatMap((w) => [w.config, ...w.layers]));
    extras = extras.filter((x) => keep!.has(x.digest));
    bases = new Map([...bases].filter(([d]) => keep!.has(d)));
  }
  out.info(`loading ${bundle} into the Docker engine at ${engine.dockerHost} (API ${api})`);
  // The engine loads an archive only once it has all of it: a cut upload loads nothing.
  setInterruptMessage(() => `interrupted: the upload to the engine was cut off, so the engine loaded nothing from ${bundle}`);
  let answer: LoadAnswer;
  if (loadable && meta) {
    // Every layer the archive leaves out is one the engine holds (differentialSources checked).
    const fromEngine = new Set([...expected].filter((d) => !bases.has(d) && !loadable.archive.contents.files.has(blobPath(d))));
    try {
      answer = await loadByCopy(engine, loadable, toLoad.map((w) => ({ tag: w.tag, config: w.config, layers: w.layerDescriptors })), {
        bases,
        fromEngine,
        onStart: (total) => out.start('send', `sending ${bundle} to the engine`, total),
        onBytes: (n) => out.progress('send', n),
      });
    } catch (err) {
      out.done('send', { failed: true });
      out.stop();
      throw err;
    }
    out.done('send');
    out.stop();
  } else answer = await sendRewritten(engine, bundle, manifestJson, keep, extras, out);
  if (answer.errors.length) {
    throw new FerryError('ENGINE', `loading ${bundle}: the Docker engine reported: ${answer.errors.join('; ')}`, {
      hint: expected.size && !extras.length && !bases.size
        ? 'an engine with the containerd image store needs every layer in the upload: name the full bundle this one was made against with --base'
        : 'run `ferry verify` on the bundle; the engine log may say more',
    });
  }
  // An archive ferry cannot list (no manifest.json): what the engine said it loaded.
  items ??= answer.loaded.map((l) => (l.startsWith('sha256:') ? { id: l, tags: [] } : { id: '', tags: [l] }));
  for (const i of items) i.status ??= 'loaded';
  return items as LoadedItem[];
}

export async function runLoad(a: LoadArgs): Promise<number> {
  if (a.platform !== undefined) parsePlatform(a.platform); // up front: before the engine is asked anything
  const out = makeOutput(a);
  const engine = new DockerEngine();
  const report = (items: Item[]): void => {
    for (const i of items) {
      if (i.status === 'loaded') out.info(`loaded ${itemName(i)}`);
      else if (i.status === 'tagged') out.info(`tagged ${i.tags.join(', ')}: the engine had image ${i.id}, the tag was missing or named another image`);
      else if (i.status === 'present') out.info(`already present: ${itemName(i)} (use --force to load it anyway)`);
    }
    out.report({
      command: 'load',
      status: 'ok',
      engine: engine.dockerHost,
      images: items.map((i) => ({ name: i.tags[0] ?? null, tags: i.tags, id: i.id || null, status: i.status ?? 'loaded' })),
      loaded: items.filter((i) => i.status === 'loaded').map(itemName),
      skipped: items.filter((i) => i.status !== 'loaded').map(itemName),
    });
  };
  // Imported only for --policy: its YAML, schema and sigstore modules take a while to load,
  // and a load without one should reach the engine at once.
  const check = a.policy !== undefined ? await import('./policy-check.js') : undefined;
  const policy = check && a.policy !== undefined ? await check.loadPolicy(a.policy) : undefined;
  try {
    if (check && policy) {
      // The signatures sit among the blobs: one checking pass over the bundle first.
      const checked = await verifyArchive(a.bundle, false);
      if (checked.problems.length) throw new FerryError('BUNDLE_FORMAT', `${a.bundle} failed its checks, nothing was loaded:\n  - ${checked.problems.join('\n  - ')}`, { hint: 'run `ferry verify` on it, and copy or save it again' });
      const verdicts = await check.judge(policy, checked.interpretation.images.map((i) => i.plan), async (d) => checked.contents.small.get(blobPath(d)), out);
      if (verdicts.some((v) => v.verdict === 'rejected')) throw check.rejectedError(verdicts, policy, '; nothing was loaded');
    }
    const items = await loadBundle(engine, a.bundle, a, out);
    report(items);
    return 0;
  } finally {
    out.stop();
    await engine.close();
  }
}
