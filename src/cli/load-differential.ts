/**
 * `ferry load` of a differential bundle (ferry.json `expectedLayers`): the layers it does not
 * carry must come from somewhere before anything is sent to the engine. Each one is taken from
 * a `--base` bundle that holds it (read in place, verified as it streams into the upload), or
 * else left to the engine when it already holds it (an image there has the same diff_ids up
 * to that layer: `docker load` then reuses it without reading the absent file, see
 * engine-layers.ts). A layer found in neither refuses the load, naming it, before the upload.
 */
import type { Readable } from 'node:stream';
import { FerryError, UsageError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { openSeekable, type SeekableArchive } from '../bundle/seekable.js';
import { readArchive } from '../bundle/reader.js';
import type { ExtraBlob } from '../bundle/rewrite.js';
import { parseImageConfig } from '../oci/config.js';
import { osReason } from '../fs/io-error.js';
import { engineLayers, type EngineLayers } from '../docker-engine/engine-layers.js';
import type { DockerEngine } from '../docker-engine/engine.js';
import { pipeTo } from '../util/streams.js';

/** An image to load: its label for messages, config digest and layer digests in order. */
export interface LoadImage {
  label: string;
  config: string;
  layers: string[];
}

/** Where the layers a differential load needs come from; `extras` go into the upload. */
export interface DifferentialSources {
  extras: ExtraBlob[];
  /** The --base bundle each of the extras is read from, by digest. */
  bases: Map<string, SeekableArchive>;
  /** How many layers the engine is relied on for, and how many come from --base bundles. */
  fromEngine: number;
  fromBase: number;
}

/** Opens a --base bundle for reading in place. Throws USAGE when it cannot be. */
async function openBase(path: string): Promise<SeekableArchive> {
  let s: SeekableArchive | undefined;
  try {
    s = await openSeekable(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code) throw new UsageError(`--base ${path}: ${osReason(err)}`, 'name a full bundle made by ferry save or export');
    throw err;
  }
  if (!s) throw new UsageError(`--base ${path} cannot be read in place (an older gzip bundle or a legacy docker save archive)`, 'give a bundle written by this ferry version (or a plain OCI-layout tar), or load that bundle first and then this one without --base');
  return s;
}

function baseBlob(s: SeekableArchive, digest: string): ExtraBlob | undefined {
  const name = blobPath(digest);
  const size = s.contents.files.get(name)?.size;
  if (size === undefined) return undefined;
  return { digest, size, source: s.path, open: (): Readable => pipeTo(s.open(name), new VerifyingStream(digest, size, `layer ${digest} in ${s.path}`)) };
}

/** The configs' diff_ids, read from the bundle (in place when it can be, else through once). */
async function diffIds(bundle: string, configs: readonly string[]): Promise<Map<string, string[]>> {
  const s = await openSeekable(bundle).catch(() => undefined);
  const small = s ? undefined : (await readArchive(bundle, async () => undefined, { keep: (name) => configs.some((c) => blobPath(c) === name) })).small;
  const out = new Map<string, string[]>();
  for (const c of configs) {
    const raw = s ? await s.read(blobPath(c)).catch(() => undefined) : small?.get(blobPath(c));
    out.set(c, (raw && parseImageConfig(raw)?.diffIds) || []);
  }
  return out;
}

/**
 * Finds every `expected` layer of `images` in `bases` or the engine. Throws NOT_FOUND naming
 * the layers found in neither (nothing was sent), USAGE for a --base that cannot be read.
 */
export async function differentialSources(bundle: string, images: readonly LoadImage[], expected: ReadonlySet<string>, bases: readonly string[], engine: DockerEngine): Promise<DifferentialSources> {
  const opened = await Promise.all(bases.map(openBase));
  const extras = new Map<string, ExtraBlob>();
  const baseOf = new Map<string, SeekableArchive>();
  const needEngine: { image: LoadImage; index: number }[] = [];
  for (const image of images) {
    image.layers.forEach((digest, index) => {
      if (!expected.has(digest) || extras.has(digest)) return;
      const base = opened.find((s) => baseBlob(s, digest));
      if (base) {
        extras.set(digest, baseBlob(base, digest)!);
        baseOf.set(digest, base);
      } else needEngine.push({ image, index });
    });
  }
  let held: EngineLayers | undefined;
  const ids = needEngine.length ? await diffIds(bundle, [...new Set(needEngine.map((n) => n.image.config))]) : new Map<string, string[]>();
  const missing: string[] = [];
  for (const { image, index } of needEngine) {
    held ??= await engineLayers(engine);
    const d = ids.get(image.config) ?? [];
    if (d.length !== image.layers.length || !held.has(d, index)) missing.push(`${image.layers[index]} (layer ${index + 1} of ${image.label})`);
  }
  if (missing.length) {
    const unique = [...new Set(missing)];
    throw new FerryError('NOT_FOUND', `${bundle} is a differential bundle, and ${unique.length} layer${unique.length === 1 ? '' : 's'} it builds on ${unique.length === 1 ? 'is' : 'are'} ${bases.length ? 'neither in the Docker engine at ' + engine.dockerHost + ' nor in the --base bundles' : 'not in the Docker engine at ' + engine.dockerHost}, so nothing was loaded:\n  - ${unique.join('\n  - ')}`, {
      hint: 'load the full bundle it was made against first (or an image with those layers), or name that bundle with --base FULL-BUNDLE',
    });
  }
  return { extras: [...extras.values()], bases: baseOf, fromEngine: needEngine.length, fromBase: extras.size };
}
