/**
 * `ferry copy SRC DST`: one image (or every image of a bundle) from where it lives to another
 * place, every digest kept, through the copy engine (transfer/copy.ts), streamed with no
 * temporary copy. Places: a registry (`REF` or `docker://REF`), an OCI layout (`oci:DIR[:NAME]`),
 * and as a source a bundle file (a seekable one read in place, each blob checked as it streams;
 * an older one read into the cache and checked first).
 * Exit 0 copied, 1 failure, 2 invalid input (docs/cli.md).
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError, wrap } from '../errors.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { parseImageConfig } from '../oci/config.js';
import { pipeTo } from '../util/streams.js';
import type { ImageSink } from '../content/image-sink.js';
import type { BlobSource, ImageSource } from '../content/image-source.js';
import { planSize, type ImagePlan } from '../content/plan.js';
import { checkOutputPath } from '../fs/output-path.js';
import { parsePlatformSelection, requirePlatform, type PlatformSelection } from '../oci/platform.js';
import { parseLayoutRef } from '../oci-layout/layout-dir.js';
import { OciLayoutSink } from '../oci-layout/sink.js';
import { OciLayoutSource } from '../oci-layout/source.js';
import { setInterruptMessage } from '../process/interrupt.js';
import { formatReference, parseReference, type Reference } from '../reference/parse-reference.js';
import { RegistryImageSink } from '../registry/image-sink.js';
import { RegistryImageSource } from '../registry/image-source.js';
import { copyImages } from '../transfer/copy.js';
import { resolveImage } from '../transfer/resolve.js';
import type { CopyArgs } from './commands.js';
import { concurrencyOption, makeOutput, makeRegistries, openStore } from './common.js';
import { openBundle } from './open-bundle.js';

type End = { kind: 'oci'; dir: string; name: string | undefined; text: string } | { kind: 'registry'; ref: Reference; text: string } | { kind: 'bundle'; path: string; text: string };

/** Parses SRC or DST; a bundle only as a source (an existing regular file). */
async function parseEnd(text: string, role: 'source' | 'destination'): Promise<End> {
  const layout = parseLayoutRef(text);
  if (layout) {
    if (!layout.dir) throw new UsageError(`the ${role} ${text} names no directory`, 'write oci:DIR or oci:DIR:NAME');
    return { kind: 'oci', dir: resolve(layout.dir), name: layout.name, text };
  }
  const bare = text.startsWith('docker://') ? text.slice('docker://'.length) : text;
  if (role === 'source' && !text.startsWith('docker://')) {
    const s = await stat(text).catch(() => undefined);
    if (s?.isFile()) return { kind: 'bundle', path: text, text };
  }
  return { kind: 'registry', ref: parseReference(bare), text };
}

/** The Reference an OCI layout image goes by in messages and plans: `oci:DIR:NAME`. */
function layoutReference(dir: string, name: string | undefined, digest: string | undefined): Reference {
  return { registry: `oci:${dirname(dir)}`, repository: basename(dir), tag: name, digest: name ? undefined : digest };
}

/**
 * A single-platform image has its platform in its config only: read the (small) config and
 * check it against the platforms asked for, as save does (`the image is linux/amd64 only`).
 */
async function checkSinglePlatform(source: ImageSource, plan: ImagePlan, platforms: PlatformSelection): Promise<void> {
  const img = plan.images.length === 1 ? plan.images[0]! : undefined;
  if (!img || img.platform || img.kind !== 'image' || platforms.all || platforms.defaulted) return;
  const { body } = await source.blob(plan.ref, img.config, `reading the config of ${plan.request}`)(0);
  const chunks: Buffer[] = [];
  for await (const c of pipeTo(body, new VerifyingStream(img.config.digest, img.config.size, `config ${img.config.digest} of ${plan.request}`)) as AsyncIterable<Buffer>) chunks.push(c);
  img.platform = parseImageConfig(Buffer.concat(chunks))?.platform;
  try {
    requirePlatform(img.platform, platforms);
  } catch (err) {
    throw wrap(`copying ${plan.request}`, err);
  }
}

export async function runCopy(a: CopyArgs): Promise<number> {
  const concurrency = concurrencyOption(a.concurrency);
  const platforms = parsePlatformSelection(a.platform);
  const [src, dst] = [await parseEnd(a.source, 'source'), await parseEnd(a.destination, 'destination')];
  if (dst.kind === 'bundle') throw new UsageError('unreachable');
  if (src.kind === 'bundle' && dst.kind === 'registry') {
    throw new UsageError(`copying a bundle into a registry is what ferry push does`, `ferry push ${src.path} --to ${dst.ref.registry}`);
  }
  if (dst.kind === 'oci') await checkOutputPath(join(dst.dir, 'index.json'), 'the OCI layout', 'choose another directory for oci:DIR');
  const out = makeOutput(a);
  const registries = makeRegistries(a);
  let source: ImageSource | undefined;
  let blobs: BlobSource;
  try {
    let plans: ImagePlan[];
    if (src.kind === 'bundle') {
      const store = await openStore(a);
      out.info(`reading ${src.path}`);
      // A seekable bundle is read in place (each blob checked as it streams); an older one is
      // read into the cache once, every entry checked.
      const opened = await openBundle(src.path, store, () => undefined, 'nothing was copied');
      const legacy = opened.interpretation.images.filter((i) => i.synthesized);
      if (legacy.length) throw new UsageError(`${src.path} is a legacy docker save archive without the registry's manifests, so there are no digests to keep`, `ferry push builds manifests for such archives; or save the images again with ferry save`);
      plans = opened.interpretation.images.map((i) => i.plan);
      blobs = opened.source;
    } else {
      const ref = src.kind === 'oci' ? layoutReference(src.dir, src.name, (await new OciLayoutSource(src.dir).entryFor(src.name)).digest) : src.ref;
      source = src.kind === 'oci' ? new OciLayoutSource(src.dir) : new RegistryImageSource(registries.client(src.ref.registry));
      plans = [await resolveImage(source, { request: a.source, ref, platforms, referrers: a.referrers, allowNondistributable: a['allow-nondistributable'] })];
      await checkSinglePlatform(source, plans[0]!, platforms);
      blobs = source;
    }
    if (dst.kind === 'oci' && dst.name && plans.length > 1) {
      throw new UsageError(`${src.text} holds ${plans.length} images; they cannot all be named ${dst.name}`, `copy to oci:${dst.dir} and each image keeps its own tag as its name`);
    }
    let sink: ImageSink;
    let layoutName = (p: ImagePlan): string => p.ref.tag ?? 'latest';
    if (dst.kind === 'oci') {
      const layout = new OciLayoutSink(dst.dir, dst.name, plans.length > 1);
      await layout.open();
      sink = layout;
      layoutName = (p) => layout.nameOf(p);
      setInterruptMessage(() => `interrupted: oci:${dst.dir} was not changed (its index.json names no new image)`);
    } else {
      sink = RegistryImageSink.single(registries.client(dst.ref.registry), dst.ref.repository, dst.ref.tag, concurrency);
      setInterruptMessage(() => `interrupted: ${formatReference(dst.ref)} was not written (blobs may have arrived, no manifest for an unfinished image)`);
    }
    for (const p of plans) for (const n of p.notes) out.warn(n);
    for (const p of plans) out.start(p.request, p.request, planSize(p));
    const { images: copied } = await copyImages(blobs, plans, sink, {
      onBytes: (p, n) => out.progress(p.request, n),
      onImage: (i) => out.done(i.plan.request, i.blobs.uploaded ? {} : { label: 'present' }),
    });
    out.stop();
    const target = (p: ImagePlan): string => (dst.kind === 'oci' ? `oci:${dst.dir}:${layoutName(p)}` : `${dst.ref.registry}/${dst.ref.repository}${dst.ref.tag ? `:${dst.ref.tag}` : ''}`);
    for (const c of copied) {
      const refs = c.plan.referrers?.length ? `, ${c.plan.referrers.length} referrer${c.plan.referrers.length === 1 ? '' : 's'}` : '';
      out.info(`copied ${c.plan.request} -> ${target(c.plan)}@${c.plan.root.digest} (${c.blobs.uploaded} blobs copied, ${c.blobs.exists} present${refs})`);
    }
    out.report({
      command: 'copy',
      status: 'ok',
      source: src.text,
      destination: dst.text,
      images: copied.map((c) => ({ source: c.plan.request, target: target(c.plan), digest: c.plan.root.digest, blobs: c.blobs, referrers: (c.plan.referrers ?? []).map((r) => ({ digest: r.digest, tag: r.tag ?? null })) })),
    });
    return 0;
  } finally {
    out.stop();
    await source?.close();
    await registries.close();
  }
}
