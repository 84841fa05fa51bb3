/**
 * The checks of `ferry verify`, in one streaming pass: every blob against its digest and size
 * (reader.ts), every referenced descriptor present, manifest.json / index.json / ferry.json in
 * agreement, each config's diff_ids count equal to its layers, the `.sha256` sidecar when present,
 * and with `deep` each layer's uncompressed digest against its diff_id.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { blobPath } from '../digest/digest.js';
import { layerDiffId } from '../oci/layer-diff-id.js';
import { interpret, type Interpretation } from './contents.js';
import { readArchive, type ArchiveContents } from './reader.js';
import { parseImageConfig } from '../oci/config.js';
import { BUNDLE_DOCUMENTS } from './layout.js';
import { openSeekable } from './seekable.js';
import { verifySeekable } from './verify-seekable.js';
import { findVolumeSet, readSetSidecar, setSidecarName } from './volume-set.js';

export interface VerifyResult {
  interpretation: Interpretation;
  contents: ArchiveContents;
  problems: string[];
  checked: { blobs: number; bytes: number; layersDeep: number; sidecar: 'ok' | 'absent' | 'mismatch' };
}

/**
 * Checks each image against its config: the diff_ids count equals the layers, a legacy
 * (docker save) layer, which is stored uncompressed, hashes to its diff_id, and with `diffIds`
 * (--deep) every layer decompresses (gzip, zstd or none, oci/layer-diff-id.ts) to its diff_id;
 * a `diffIds` entry `{ error }` is a layer that does not decompress. Resolves the problems and
 * how many distinct layers were checked deeply.
 */
export function imageProblems(interpretation: Interpretation, contents: ArchiveContents, diffIds?: ReadonlyMap<string, string | { error: string }>): { problems: string[]; layersDeep: number } {
  const problems: string[] = [];
  const deepChecked = new Set<string>();
  for (const img of interpretation.images) {
    const label = img.name ?? img.plan.root.digest;
    for (const pi of img.plan.images) {
      // Artifacts (Helm charts, attestations) have no diff_ids: they are checked by digest only.
      if (pi.kind !== 'image') continue;
      const cfgPath = img.synthesized ? [...contents.files.values()].find((f) => f.digest === pi.config.digest)?.name : blobPath(pi.config.digest);
      const cfgRaw = cfgPath ? contents.small.get(cfgPath) : undefined;
      if (!cfgRaw) continue;
      const cfg = parseImageConfig(cfgRaw);
      if (!cfg) {
        problems.push(`image ${label}: config ${pi.config.digest} is not valid JSON`);
        continue;
      }
      const diff = cfg.diffIds;
      if (diff.length !== pi.layers.length) {
        problems.push(`image ${label}: config ${pi.config.digest} lists ${diff.length} diff_ids but the manifest has ${pi.layers.length} layers`);
        continue;
      }
      pi.layers.forEach((l, i) => {
        const name = blobPathOrName(contents, l.digest);
        if (img.synthesized && l.digest !== diff[i]) {
          problems.push(`image ${label}: layer ${i} (${name}) hashes to ${l.digest}, the config's diff_id is ${diff[i]}`);
          return;
        }
        const got = diffIds?.get(name);
        if (got === undefined) return;
        deepChecked.add(l.digest);
        if (typeof got !== 'string') problems.push(`image ${label}: layer ${l.digest} (${name}): ${got.error} (--deep)`);
        else if (got !== diff[i]) problems.push(`image ${label}: layer ${l.digest} decompresses to ${got}, the config's diff_id is ${diff[i]} (--deep)`);
      });
    }
  }
  return { problems, layersDeep: deepChecked.size };
}

/**
 * Verifies the archive at `path`; `onBytes` sees the archive-file bytes as they are read.
 * Throws only when it cannot be read at all (truncated, hostile).
 */
export async function verifyArchive(path: string, deep: boolean, onBytes?: (n: number) => void): Promise<VerifyResult> {
  // A seekable bundle is checked member by member on both cores (verify-seekable.ts); any other
  // archive, and a volume set (each volume hashed against its own line), in one streaming pass.
  const isSet = (await findVolumeSet(path).catch(() => undefined)) !== undefined;
  const seekable = isSet ? undefined : await openSeekable(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException)?.code) return undefined; // the full reader names it
    throw err;
  });
  const fast = seekable ? await verifySeekable(seekable, deep, onBytes) : undefined;
  const diffIds = fast?.diffIds ?? new Map<string, string | { error: string }>();
  const contents = fast?.contents ?? await readArchive(
    path,
    async (file, body) => {
      if (!deep || BUNDLE_DOCUMENTS.has(file.name)) return;
      // A layer that does not decompress is a problem of its image, not an unreadable archive:
      // layerDiffId has read the whole entry, so the reader still checks its digest.
      const got = await layerDiffId(body).then(
        (r) => r.diffId,
        (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
      );
      diffIds.set(file.name, got);
    },
    { hashFile: true, ...(onBytes ? { onBytes } : {}) },
  );
  const interpretation = interpret(contents);
  const checked = imageProblems(interpretation, contents, deep ? diffIds : undefined);
  const problems = [...interpretation.problems, ...checked.problems];
  const layersDeep = checked.layersDeep;

  const meta = interpretation.metadata;
  if (meta) {
    const byDigest = new Map(interpretation.images.map((i) => [i.plan.root.digest, i]));
    for (const m of meta.images) {
      const img = byDigest.get(m.digest);
      if (!img) {
        problems.push(`ferry.json lists ${m.reference} (${m.digest}) but index.json does not`);
        continue;
      }
      for (const p of m.platforms) {
        if (!contents.files.has(blobPath(p.manifest))) problems.push(`ferry.json: ${m.reference} ${p.platform} manifest ${p.manifest} is missing`);
        // Non-distributable layers are not carried: ferry.json says which.
        for (const l of p.layers) if (!contents.files.has(blobPath(l.digest)) && !m.foreignLayers?.includes(l.digest) && !m.expectedLayers?.includes(l.digest)) problems.push(`ferry.json: ${m.reference} layer ${l.digest} is missing`);
      }
    }
    if (meta.images.length !== interpretation.images.length) problems.push(`ferry.json lists ${meta.images.length} images, index.json ${interpretation.images.length}`);
  }
  if (interpretation.docker && interpretation.kind !== 'docker-legacy') {
    for (const [i, e] of interpretation.docker.entries()) {
      const owner = interpretation.images.find((img) => img.plan.images.some((pi) => blobPath(pi.config.digest) === e.Config));
      const pi = owner?.plan.images.find((x) => blobPath(x.config.digest) === e.Config);
      if (!pi) {
        problems.push(`manifest.json[${i}]: config ${e.Config} belongs to no image in index.json`);
        continue;
      }
      const want = pi.layers.map((l) => blobPath(l.digest));
      if (JSON.stringify(want) !== JSON.stringify(e.Layers)) problems.push(`manifest.json[${i}]: layers disagree with manifest ${pi.manifest.digest}`);
    }
  }

  let sidecar: VerifyResult['checked']['sidecar'] = 'absent';
  const set = contents.volumeSha256 ? await findVolumeSet(path) : undefined;
  const side = set ? undefined : await readFile(`${path}.sha256`, 'utf8').catch(() => undefined);
  if (set) {
    // A set: each volume against its own line of NAME.sha256.
    const lines = await readSetSidecar(set.base);
    if (lines) {
      sidecar = 'ok';
      set.volumes.forEach((v, i) => {
        const want = lines.get(basename(v.path));
        const got = contents.volumeSha256![i];
        if (want === got) return;
        sidecar = 'mismatch';
        problems.push(want ? `${setSidecarName(set.base)} says ${want} for ${basename(v.path)} (volume ${i + 1}), the file hashes to ${got}` : `${setSidecarName(set.base)} has no line for ${basename(v.path)} (volume ${i + 1})`);
      });
    }
  } else if (side !== undefined) {
    const want = side.trim().split(/\s+/)[0];
    sidecar = want === contents.fileSha256 ? 'ok' : 'mismatch';
    if (sidecar === 'mismatch') problems.push(`${basename(path)}.sha256 says ${want}, the file hashes to ${contents.fileSha256}`);
  }
  let bytes = 0;
  for (const f of contents.files.values()) if (!f.aliasOf) bytes += f.size;
  return { interpretation, contents, problems, checked: { blobs: contents.files.size, bytes, layersDeep, sidecar } };
}

function blobPathOrName(contents: ArchiveContents, digest: string): string {
  const p = blobPath(digest);
  if (contents.files.has(p)) return p;
  return [...contents.files.values()].find((f) => f.digest === digest)?.name ?? p;
}
