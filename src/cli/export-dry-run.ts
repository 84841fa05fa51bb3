/**
 * `ferry export --dry-run`: what an export would carry, without writing anything (no bundle,
 * no lock file, no cache, not even the cache directory). Tag selections are listed (or, with
 * --locked, taken from the lock), every image is resolved (manifests only), and each line says
 * the reference, tag, digest, size, and how much of it the cache already holds. Exit 0, or 1
 * when an image cannot be resolved (every image is still tried and reported).
 */
import pLimit from 'p-limit';
import { EXIT, FerryError, wrap } from '../errors.js';
import type { LoadedManifest, ManifestImage } from '../manifest-file/load.js';
import { planBlobs, planSize } from '../content/plan.js';
import { formatReference } from '../reference/parse-reference.js';
import { resolveRequest } from '../transfer/pull.js';
import { BlobStore, defaultCacheDir } from '../store/blob-store.js';
import { makeOutput, makeRegistries } from './common.js';
import { formatBytes } from './output.js';
import { errorJson } from './report.js';
import { expandByListing } from './tag-selection.js';
import type { ExportArgs } from './commands.js';

interface Row {
  reference: string;
  tag: string | null;
  selectedBy: string | null;
  digest: string | null;
  size: number | null;
  cachedBytes: number | null;
  cached: boolean;
  error: ReturnType<typeof errorJson> | null;
}

type Resolved = { row: Row; err?: FerryError };

/** Runs the dry run for a loaded manifest; `pin` gives an image to its locked digest under --locked. */
export async function runExportDryRun(a: ExportArgs, loaded: LoadedManifest, pin: (i: ManifestImage) => string | undefined): Promise<number> {
  const output = makeOutput(a);
  const registries = makeRegistries(a, { insecure: loaded.insecure, caFiles: loaded.caFiles });
  // Not opened: init() would create the directory and reclaim temp files.
  const store = new BlobStore(a['cache-dir'] ?? defaultCacheDir());
  try {
    let manifest = loaded;
    if (!a.locked && loaded.images.some((i) => i.selection)) {
      const x = await expandByListing(loaded, registries);
      manifest = x.manifest;
      for (const n of x.notes) output.warn(n);
    }
    const limit = pLimit(8);
    const resolved = await Promise.all(manifest.images.map((i) => limit(() => row(i, pin(i)))));
    const rows = resolved.map((r) => r.row);
    if (a.json) {
      output.report({ command: 'export', dryRun: true, status: rows.some((r) => r.error) ? 'failed' : 'ok', bundle: null, images: rows });
    } else {
      const table = [['REFERENCE', 'TAG', 'DIGEST', 'SIZE', 'CACHED'], ...rows.map((r) => [
        r.reference, r.tag ?? '-', r.digest ? r.digest.slice(0, 19) : 'error', r.size === null ? '-' : formatBytes(r.size),
        r.error ? '-' : r.cached ? 'yes' : r.cachedBytes ? `${formatBytes(r.cachedBytes)} of ${formatBytes(r.size ?? 0)}` : 'no',
      ])];
      const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
      for (const r of table) process.stdout.write(`${r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()}\n`);
      const size = rows.reduce((n, r) => n + (r.size ?? 0), 0);
      const cached = rows.reduce((n, r) => n + (r.cachedBytes ?? 0), 0);
      output.info(`dry run: ${rows.length} image${rows.length === 1 ? '' : 's'}, ${formatBytes(size)}, ${formatBytes(size - cached)} to download; nothing was written`);
    }
    const failed = resolved.flatMap((r) => (r.err ? [r.err] : []));
    for (const f of failed.slice(1)) output.warn(f.message);
    if (failed.length) throw failed[0]!;
    return EXIT.ok;
  } finally {
    await registries.close();
  }

  async function row(i: ManifestImage, digest: string | undefined): Promise<Resolved> {
    const base = { reference: formatReference({ ...i.ref, tag: undefined, digest: undefined }), tag: i.ref.tag ?? null, selectedBy: i.selection?.key ?? null };
    try {
      const plan = await resolveRequest(registries, { ...i, ref: digest ? { ...i.ref, digest } : i.ref, ...(a.referrers === false ? { referrers: false } : {}), allowNondistributable: a['allow-nondistributable'] });
      // What an export stores: the manifests (fetch.ts) and the blobs.
      const blobs = [...plan.manifests.map((m) => ({ digest: m.digest, size: m.raw.length })), ...planBlobs(plan)];
      const have = await Promise.all(blobs.map((b) => store.has(b.digest, b.size)));
      const cachedBytes = blobs.reduce((n, b, k) => n + (have[k] ? b.size : 0), 0);
      return { row: { ...base, digest: plan.root.digest, size: planSize(plan), cachedBytes, cached: have.every(Boolean), error: null } };
    } catch (err) {
      const e = wrap(`resolving ${i.request} (${i.origin})`, err, 'REGISTRY');
      return { row: { ...base, digest: null, size: null, cachedBytes: null, cached: false, error: errorJson(e) }, err: e };
    }
  }
}
