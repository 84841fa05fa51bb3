/**
 * Extra test images for the export suite, made with real tools (the classic docker builder,
 * docker push, skopeo copy), never with ferry; and what the registry says about an image, as
 * the oracle for ferry's lock file and index.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dockerd } from './dockerd.js';
import { runOk } from './processes.js';
import { rawManifest, sha256 } from './skopeo.js';

/** A single-platform image as the registry stores it. */
export interface BuiltImage {
  /** host/repo:tag */
  ref: string;
  /** sha256 of the raw manifest the registry serves. */
  digest: string;
  config: string;
  layers: { digest: string; size: number }[];
}

/**
 * Builds `FROM <from>` (default scratch) + `files` (name -> content, each copied to / in its
 * own layer) + `LABEL`s with the classic builder, pushes it as `ref` (host/repo:tag) and
 * returns what the registry reports.
 */
export async function buildFileImage(
  dockerd: Dockerd,
  ref: string,
  files: Record<string, string | Buffer>,
  dir: string,
  opts: { from?: string; labels?: Record<string, string> } = {},
): Promise<BuiltImage> {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  const lines = [
    `FROM ${opts.from ?? 'scratch'}`,
    ...Object.keys(files).map((f) => `COPY ${f} /${f}`),
    ...Object.entries(opts.labels ?? {}).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`),
  ];
  writeFileSync(join(dir, 'Dockerfile'), `${lines.join('\n')}\n`);
  await dockerd.dockerOk(['build', '--quiet', '-t', ref, dir]);
  await dockerd.dockerOk(['push', '--quiet', ref]);
  return describeManifest(ref);
}

/** Reads `ref` from the registry (skopeo inspect --raw) as a BuiltImage; throws for an index. */
export async function describeManifest(ref: string): Promise<BuiltImage> {
  const raw = await rawManifest(ref);
  const m = JSON.parse(raw) as { config?: { digest: string }; layers?: { digest: string; size: number }[] };
  if (!m.config || !m.layers) throw new Error(`${ref} is not a single-platform image manifest: ${raw}`);
  return { ref, digest: sha256(raw), config: m.config.digest, layers: m.layers.map((l) => ({ digest: l.digest, size: l.size })) };
}

/** One platform image in a lock entry, as the registry describes it. */
export interface PlatformImage {
  platform: string;
  manifest: string;
  config: string;
  layers: { digest: string; size: number }[];
}

/** What a lock entry should say about an image (without ref, name, platforms). */
export interface ImageOracle {
  upstreamDigest: string;
  digest: string;
  mediaType: string;
  images: PlatformImage[];
}

interface RawIndex {
  mediaType?: string;
  manifests: { digest: string; mediaType: string; platform?: { os: string; architecture: string; variant?: string } }[];
}

/**
 * What the registry holds for `ref` (host/repo:tag or host/repo@sha256:...), narrowed to
 * `platforms` ("all", or a list of os/arch[/variant]) the way docs/manifest-file.md describes
 * the lock: for an index, every platform or the chosen ones (the root is the platform manifest
 * when exactly one is chosen); for a single manifest, that manifest (its platform from the
 * config, read with `skopeo inspect --config --raw`).
 */
export async function registryOracle(ref: string, platforms: readonly string[]): Promise<ImageOracle> {
  const raw = await rawManifest(ref);
  const upstreamDigest = sha256(raw);
  const doc = JSON.parse(raw) as RawIndex & { config?: unknown };
  const repo = ref.replace(/[@:][^/]*$/, '');
  if (!Array.isArray(doc.manifests)) {
    const m = await describeManifest(ref);
    const cfg = JSON.parse(await runOk('skopeo', ['inspect', '--config', '--raw', '--tls-verify=false', `docker://${ref}`])) as {
      os: string; architecture: string; variant?: string;
    };
    const platform = [cfg.os, cfg.architecture, cfg.variant].filter(Boolean).join('/');
    return { upstreamDigest, digest: upstreamDigest, mediaType: mediaTypeOf(raw), images: [{ platform, manifest: m.digest, config: m.config, layers: m.layers }] };
  }
  const all = platforms.includes('all');
  const chosen = doc.manifests.filter((d) => all || platforms.includes(platformOf(d.platform)));
  const images = await Promise.all(
    chosen.map(async (d) => {
      const m = await describeManifest(`${repo}@${d.digest}`);
      return { platform: platformOf(d.platform), manifest: d.digest, config: m.config, layers: m.layers };
    }),
  );
  if (all) return { upstreamDigest, digest: upstreamDigest, mediaType: mediaTypeOf(raw), images };
  if (chosen.length === 1) return { upstreamDigest, digest: chosen[0]!.digest, mediaType: chosen[0]!.mediaType, images };
  throw new Error(`registryOracle: a new index for ${platforms.join(',')} of ${ref} is not modelled`);
}

function platformOf(p: RawIndex['manifests'][number]['platform']): string {
  return p ? [p.os, p.architecture, p.variant].filter(Boolean).join('/') : 'unknown/unknown';
}

function mediaTypeOf(raw: string): string {
  const m = (JSON.parse(raw) as { mediaType?: string }).mediaType;
  if (!m) throw new Error(`manifest without mediaType: ${raw.slice(0, 200)}`);
  return m;
}

/**
 * Copies `src` to `dst` (host/repo:tag) with skopeo, converting the manifest to the OCI format
 * (`--format oci`): same layers, a new manifest and so a new digest. Returns that digest.
 */
export async function copyAsOci(src: string, dst: string): Promise<string> {
  await runOk('skopeo', ['copy', '--quiet', '--format', 'oci', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${src}`, `docker://${dst}`]);
  const raw = await rawManifest(dst);
  const mediaType = (JSON.parse(raw) as { mediaType?: string }).mediaType;
  if (mediaType !== 'application/vnd.oci.image.manifest.v1+json') throw new Error(`${dst} is not an OCI manifest after copy --format oci: ${raw}`);
  return sha256(raw);
}

/**
 * Builds a two-platform image as the fixtures' test/multi is made (fixtures.ts), with its own
 * content (`label` in /arch.txt) so every digest differs from test/multi: one `FROM scratch`
 * image per platform built with `docker build --platform`, pushed as `<ref>-<arch>`, then a
 * manifest list made with `docker manifest create/annotate/push`. Returns the list's digest.
 */
export async function buildMultiArch(dockerd: Dockerd, ref: string, label: string, dir: string): Promise<string> {
  const archRefs: string[] = [];
  for (const arch of ['amd64', 'arm64']) {
    const ctx = join(dir, arch);
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'arch.txt'), `${label} ${arch}\n`);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY arch.txt /arch.txt\n');
    const archRef = `${ref}-${arch}`;
    await dockerd.dockerOk(['build', '--quiet', '--platform', `linux/${arch}`, '-t', archRef, ctx]);
    await dockerd.dockerOk(['push', '--quiet', archRef]);
    archRefs.push(archRef);
  }
  await dockerd.dockerOk(['manifest', 'create', '--insecure', ref, ...archRefs.flatMap((r) => ['--amend', r])]);
  await dockerd.dockerOk(['manifest', 'annotate', '--os', 'linux', '--arch', 'arm64', ref, archRefs[1]!]);
  await dockerd.dockerOk(['manifest', 'push', '--insecure', '--purge', ref]);
  return sha256(await rawManifest(ref));
}
