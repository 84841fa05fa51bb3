/**
 * `ferry load` of a bundle that can be read in place (a format-2 bundle, or a ferry bundle
 * written as a plain tar) as a composition of the copy engine (transfer/copy.ts): the bundle
 * (cli/open-bundle.ts bundleBlobSource: stored layers read as they lie in the file, no zlib),
 * plus for a differential bundle the --base bundles that hold the layers it builds on (routed
 * by digest), as the source; a docker-load archive (bundle/docker-archive-sink.ts) as the sink,
 * whose stream is the body of the engine's POST /images/load. The engine verifies every blob
 * as it streams; a wrong one fails the copy before its tar entry ends, the sink aborts the
 * stream, and the engine, which unpacks the whole archive before it loads, loads nothing.
 * Older gzip bundles (format 1) and `docker save` or skopeo archives cannot be read in place:
 * load.ts streams those through the checking rewrite (bundle/rewrite.ts).
 */
import { FerryError, wrap } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { interpret } from '../bundle/contents.js';
import { DockerArchiveSink } from '../bundle/docker-archive-sink.js';
import { FERRY_JSON, type FerryMetadata } from '../bundle/layout.js';
import type { SeekableArchive } from '../bundle/seekable.js';
import type { BlobSource } from '../content/image-source.js';
import type { ImagePlan } from '../content/plan.js';
import { routedBlobSource } from '../content/routed-blob-source.js';
import type { DockerEngine } from '../docker-engine/engine.js';
import { parseLoadAnswer, type LoadAnswer } from '../docker-engine/load-stream.js';
import { MediaType } from '../oci/media-types.js';
import type { Descriptor } from '../oci/manifest.js';
import { copyImages } from '../transfer/copy.js';
import { bundleBlobSource, openInPlace, refuseDamaged } from './open-bundle.js';

/** A ferry bundle opened for reading in place, with its ferry.json. */
export interface LoadableBundle {
  archive: SeekableArchive;
  metadata: FerryMetadata;
}

/**
 * `path` opened in place when it is a ferry bundle that can be (format 2, or a plain tar), else
 * undefined (load.ts then reads it through). Throws BUNDLE_FORMAT for a damaged table of
 * contents or a bundle that fails its checks (nothing was loaded).
 */
export async function openLoadable(path: string): Promise<LoadableBundle | undefined> {
  const s = await openInPlace(path);
  const raw = s?.contents.small.get(FERRY_JSON);
  if (!s || !raw) return undefined;
  let metadata: FerryMetadata;
  try {
    metadata = JSON.parse(raw.toString('utf8')) as FerryMetadata;
  } catch (err) {
    throw new FerryError('BUNDLE_FORMAT', `bundle entry "${FERRY_JSON}" of ${path} is not valid JSON`, { cause: err });
  }
  refuseDamaged(path, interpret(s.contents), s, 'nothing was loaded');
  return { archive: s, metadata };
}

/** One image to load: its tag (or none), config digest and layers, in order. */
export interface LoadImageSpec {
  tag: string | null;
  config: string;
  layers: { digest: string; size: number; mediaType: string }[];
}

/** The plan of one image's docker-load view: its config and layers, no manifests (the archive has none). */
function loadPlan(s: SeekableArchive, w: LoadImageSpec, fromEngine: ReadonlySet<string>): ImagePlan {
  const size = s.contents.files.get(blobPath(w.config))?.size;
  if (size === undefined) throw new FerryError('BUNDLE_FORMAT', `${s.path} holds no config ${w.config} for ${w.tag ?? w.config}`, { hint: 'run `ferry verify` on it, and copy or save it again' });
  const config: Descriptor = { mediaType: MediaType.dockerConfig, digest: w.config, size };
  const layers: Descriptor[] = w.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
  const expected = layers.filter((l) => fromEngine.has(l.digest)).map((l) => l.digest);
  return {
    request: w.tag ?? w.config,
    ref: { registry: 'unnamed', repository: 'unnamed', tag: undefined, digest: w.config },
    name: w.tag ?? undefined,
    root: config,
    upstreamDigest: w.config,
    manifests: [],
    images: [{ platform: undefined, manifest: config, config, layers, kind: 'image' }],
    notes: [],
    ...(expected.length ? { expected } : {}),
  };
}

export interface CopyLoadOptions {
  /** --base bundles by the digest of each layer they give. */
  bases: ReadonlyMap<string, SeekableArchive>;
  /** Layers the archive leaves out: the engine holds them (a differential bundle). */
  fromEngine: ReadonlySet<string>;
  /** Called once with the bytes to send, before any. */
  onStart?: (total: number) => void;
  onBytes?: (n: number) => void;
}

/**
 * Streams `images` of `bundle` (with their layers from `bases`) into `engine` as one docker-load
 * archive; resolves the engine's answer. Throws the copy's failure (a damaged blob, named with
 * the file it is in) or, when the engine went away first, the engine's.
 */
export async function loadByCopy(engine: DockerEngine, bundle: LoadableBundle, images: readonly LoadImageSpec[], opts: CopyLoadOptions): Promise<LoadAnswer> {
  const s = bundle.archive;
  const plans = images.map((w) => loadPlan(s, w, opts.fromEngine));
  const tags = new Map(plans.map((p, i) => [p, images[i]!.tag ? [images[i]!.tag!] : []]));
  const routes = new Map<string, BlobSource>();
  const baseSources = new Map<SeekableArchive, BlobSource>();
  for (const [digest, base] of opts.bases) {
    let src = baseSources.get(base);
    if (!src) baseSources.set(base, (src = bundleBlobSource(base.path, base)));
    routes.set(digest, src);
  }
  const source = routedBlobSource(bundleBlobSource(s.path, s), routes);
  const sink = new DockerArchiveSink(`the upload to the Docker engine at ${engine.dockerHost}`, {
    repoTags: (p) => tags.get(p) ?? [],
    origin: (d) => (opts.bases.get(d) ?? s).path,
  });
  const sizes = new Map<string, number>();
  for (const p of plans) for (const d of [p.images[0]!.config, ...p.images[0]!.layers]) if (!p.expected?.includes(d.digest)) sizes.set(d.digest, d.size);
  opts.onStart?.([...sizes.values()].reduce((a, b) => a + b, 0));
  const loading = engine.load(sink.stream).then((res) => parseLoadAnswer(res.body));
  // An engine that fails, or answers before it has read the whole archive, stops the copy:
  // its writes then fail at once instead of waiting for a reader that is gone.
  const stop = (): void => void sink.stream.destroy();
  loading.then(stop, stop);
  try {
    await copyImages(source, plans, sink, {
      ...(opts.onBytes ? { onBytes: (_p: ImagePlan, n: number) => opts.onBytes!(n) } : {}),
      describeFailure: (plan, err) => wrap(`loading ${plan.request}`, err),
    });
  } catch (err) {
    // The engine went away or answered before the end: its answer (or failure) says why.
    if (sink.closedEarly) {
      const answer = await loading;
      if (answer.errors.length) return answer;
    }
    throw err;
  }
  return loading;
}
