/**
 * `ferry inspect REF | BUNDLE[#NAME]`: what an image is, from its manifests and config only
 * (no layer is pulled or read): a registry image through the resolver (transfer/resolve.ts),
 * a bundle's image from its documents (bundle/documents.ts), both shown by content/inspect.ts.
 * `--raw` prints the manifest bytes exactly, `--config` the config blob, `--format` a Go
 * template subset (util/go-template.ts). Exit 0 ok, 1 failure, 2 invalid input (docs/cli.md).
 */
import { stat } from 'node:fs/promises';
import { FerryError, UsageError } from '../errors.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { readArchiveDocuments } from '../bundle/documents.js';
import type { ImagePlan } from '../content/plan.js';
import { inspectPlan, planManifestRaw, chooseImage } from '../content/inspect.js';
import type { ImageSource } from '../content/image-source.js';
import { inspectText, type InspectView } from '../oci/inspect-view.js';
import { parsePlatform } from '../oci/platform.js';
import { formatReference, manifestIdentifier, parseReference, type Reference } from '../reference/parse-reference.js';
import { RegistryImageSource } from '../registry/image-source.js';
import { resolveImage } from '../transfer/resolve.js';
import { parseTemplate, executeTemplate } from '../util/go-template.js';
import { pipeTo } from '../util/streams.js';
import type { InspectArgs } from './commands.js';
import { makeRegistries } from './common.js';
import { formatBytes } from './output.js';

/** Configs larger than this are refused (they are JSON documents of a few KB). */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

type Target = { kind: 'bundle'; path: string; name: string | undefined } | { kind: 'registry'; text: string };

const isFile = async (p: string): Promise<boolean> => (await stat(p).catch(() => undefined))?.isFile() ?? false;

/** A bundle file (optionally `#NAME`), else a registry reference (optionally `docker://`). */
async function parseTarget(text: string): Promise<Target> {
  if (!text.startsWith('docker://')) {
    if (await isFile(text)) return { kind: 'bundle', path: text, name: undefined };
    const hash = text.lastIndexOf('#');
    if (hash > 0 && (await isFile(text.slice(0, hash)))) return { kind: 'bundle', path: text.slice(0, hash), name: text.slice(hash + 1) };
  }
  return { kind: 'registry', text: text.startsWith('docker://') ? text.slice('docker://'.length) : text };
}

async function readConfigFrom(source: ImageSource, ref: Reference, config: { digest: string; size: number; mediaType: string }, what: string): Promise<Buffer> {
  if (config.size > MAX_CONFIG_BYTES) throw new FerryError('UNSUPPORTED', `${what}: the config is ${config.size} bytes, more than the ${MAX_CONFIG_BYTES} inspect reads`);
  const { body } = await source.blob(ref, config, what)(0);
  const chunks: Buffer[] = [];
  for await (const c of pipeTo(body, new VerifyingStream(config.digest, config.size, `config ${config.digest}`)) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The bundle's image named `name` (full or familiar form), or its only image. */
function pickBundleImage(path: string, plans: ImagePlan[], name: string | undefined): ImagePlan {
  const names = plans.map((p) => p.name ?? p.root.digest);
  if (name === undefined) {
    if (plans.length === 1) return plans[0]!;
    throw new UsageError(`${path} holds ${plans.length} images; name one as ${path}#NAME`, `its images: ${names.join(', ')}`);
  }
  let want = name;
  try {
    want = formatReference(parseReference(name));
  } catch {
    /* a digest or an unusual name: compared as given */
  }
  const hit = plans.find((p) => p.name === want || p.name === name || p.root.digest === name);
  if (!hit) throw new FerryError('NOT_FOUND', `${path} holds no image named ${name}`, { hint: `its images: ${names.join(', ')}` });
  return hit;
}

function write(text: string | Buffer): void {
  process.stdout.write(text);
}

export async function runInspect(a: InspectArgs): Promise<number> {
  if ([a.raw, a.config, a.format !== undefined].filter(Boolean).length > 1) throw new UsageError('--raw, --config and --format each choose what is printed; give at most one');
  const template = a.format !== undefined ? parseTemplate(a.format) : undefined;
  if (a.platform !== undefined) parsePlatform(a.platform);
  const target = await parseTarget(a.image);
  const show = (view: InspectView): number => {
    if (template) write(`${executeTemplate(template, view)}\n`);
    else if (a.json) write(`${JSON.stringify(view, null, 2)}\n`);
    else write(inspectText(view, formatBytes));
    return 0;
  };
  if (target.kind === 'bundle') {
    const docs = await readArchiveDocuments(target.path);
    const plan = pickBundleImage(target.path, docs.interpretation.images.map((i) => i.plan), target.name);
    if (a.raw) {
      write(planManifestRaw(plan, a.platform === undefined ? plan.root.digest : chooseImage(plan, a.platform).manifest.digest));
      return 0;
    }
    const r = await inspectPlan(plan, { platform: a.platform, readConfig: async (d) => docs.blob(d.digest) });
    if (a.config) {
      if (!r.config) throw new FerryError('NOT_FOUND', `${target.path}: config ${r.image.config.digest} is not in the bundle`);
      write(r.config);
      return 0;
    }
    return show(r.view);
  }
  const ref = parseReference(target.text);
  const registries = makeRegistries(a);
  const source = new RegistryImageSource(registries.client(ref.registry));
  try {
    if (a.raw && a.platform === undefined) {
      write((await source.manifest(ref.repository, manifestIdentifier(ref), `inspecting ${formatReference(ref)}`))!.raw);
      return 0;
    }
    // Every platform manifest (they are small), never a layer; referrers only when shown.
    const plan = await resolveImage(source, { request: a.image, ref, platforms: { all: true }, referrers: !a.raw && !a.config });
    if (a.raw) {
      write(planManifestRaw(plan, chooseImage(plan, a.platform).manifest.digest));
      return 0;
    }
    const r = await inspectPlan(plan, { platform: a.platform, readConfig: (d) => readConfigFrom(source, ref, d, `inspecting ${formatReference(ref)}: config`) });
    if (a.config) {
      write(r.config!);
      return 0;
    }
    return show(r.view);
  } finally {
    await source.close();
    await registries.close();
  }
}
