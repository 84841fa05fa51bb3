/**
 * `ferry load BUNDLE`: load a bundle into a Docker engine through the Engine API (DOCKER_HOST),
 * streaming it without a temporary copy. Images the engine already has (same config digest)
 * are skipped unless --force (their tags are still set). Exit 0 ok, 1 failure.
 */
import { FerryError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { dockerTag, type DockerManifestEntry, type FerryMetadata } from '../bundle/layout.js';
import { rewriteForLoad } from '../bundle/rewrite.js';
import { verifyArchive } from '../bundle/verify.js';
import { DockerEngine } from '../docker-engine/engine.js';
import { parseLoadAnswer } from '../docker-engine/load-stream.js';
import { formatPlatform, parsePlatform, platformMatches } from '../oci/platform.js';
import { makeOutput } from './common.js';
import type { LoadArgs } from './commands.js';
import { readBundleHead } from '../bundle/head.js';


interface Wanted {
  name: string | null;
  tag: string | null;
  config: string;
  layers: string[];
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
    return { name: m.name, tag, config: p.config, layers: p.layers.map((l) => l.digest) };
  });
}

export async function runLoad(a: LoadArgs): Promise<number> {
  if (a.platform !== undefined) parsePlatform(a.platform); // up front: before the engine is asked anything
  const out = makeOutput(a);
  const engine = new DockerEngine();
  try {
    const api = await engine.ping();
    const { metadata: meta } = await readBundleHead(a.bundle);
    let manifestJson: string | undefined;
    let keep: Set<string> | undefined;
    const skipped: string[] = [];
    let wanted: Wanted[] = [];
    if (!meta) {
      // Not a ferry bundle (docker save, skopeo): its manifest.json comes last, so check the
      // whole archive first; the engine would otherwise load the images before a bad layer.
      if (a.platform) out.warn('--platform applies to ferry bundles only; loading every image of the archive');
      const checked = await verifyArchive(a.bundle, false);
      if (checked.problems.length) {
        throw new FerryError('BUNDLE_FORMAT', `${a.bundle} failed its checks, nothing was loaded:\n  - ${checked.problems.join('\n  - ')}`, { hint: 'run `ferry verify` on it, and copy or save it again' });
      }
    } else {
      wanted = wantedImages(meta, a.platform);
      const toLoad: Wanted[] = [];
      for (const w of wanted) {
        if (!a.force && (await engine.hasImage(w.config))) {
          if (w.tag) await engine.tag(w.config, w.tag);
          skipped.push(w.tag ?? w.config);
        } else toLoad.push(w);
      }
      if (toLoad.length === 0) {
        for (const s of skipped) out.info(`skipped ${s}: the engine has it already (use --force to load anyway)`);
        out.report({ command: 'load', status: 'ok', engine: engine.dockerHost, loaded: [], skipped });
        return 0;
      }
      const entries: DockerManifestEntry[] = toLoad.map((w) => ({ Config: blobPath(w.config), RepoTags: w.tag ? [w.tag] : [], Layers: w.layers.map(blobPath) }));
      manifestJson = JSON.stringify(entries);
      keep = new Set(toLoad.flatMap((w) => [w.config, ...w.layers]));
    }
    out.info(`loading ${a.bundle} into the Docker engine at ${engine.dockerHost} (API ${api})`);
    // Always through the checking rewrite: a damaged or hostile entry stops the upload, and the
    // engine, which unpacks the whole archive before loading, then loads nothing.
    const rewritten = await rewriteForLoad(a.bundle, manifestJson, keep);
    let answer;
    try {
      const res = await engine.load(rewritten.stream);
      answer = await parseLoadAnswer(res.body);
    } catch (err) {
      throw (await rewritten.failure) ?? err;
    }
    const failure = await rewritten.failure;
    if (failure) throw failure;
    if (answer.errors.length) {
      throw new FerryError('ENGINE', `loading ${a.bundle}: the Docker engine reported: ${answer.errors.join('; ')}`, { hint: 'run `ferry verify` on the bundle; the engine log may say more' });
    }
    for (const s of skipped) out.info(`skipped ${s}: the engine has it already`);
    for (const l of answer.loaded) out.info(`loaded ${l}`);
    out.report({ command: 'load', status: 'ok', engine: engine.dockerHost, loaded: answer.loaded, skipped });
    return 0;
  } finally {
    await engine.close();
  }
}
