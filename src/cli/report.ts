/** The --json reports of save and export: one document with per-image entries and a summary. */
import type { FerryError } from '../errors.js';
import { formatPlatform } from '../oci/platform.js';
import type { PullResult } from '../transfer/pull.js';
import { planSize } from '../content/plan.js';

export interface ImageReport {
  reference: string;
  name: string | null;
  digest: string | null;
  upstreamDigest: string | null;
  platforms: { platform: string; manifest: string; config: string }[];
  bytes: number;
  downloadedBytes: number;
  blobsDownloaded: number;
  blobsCached: number;
  status: 'ok' | 'failed' | 'unchanged';
  error: { code: string; message: string; hint?: string } | null;
  notes: string[];
}

export function errorJson(e: FerryError): { code: string; message: string; hint?: string } {
  return { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
}

export function imageReport(r: PullResult, status?: ImageReport['status']): ImageReport {
  const p = r.plan;
  return {
    reference: r.request.request,
    name: p?.name ?? null,
    digest: p?.root.digest ?? null,
    upstreamDigest: p?.upstreamDigest ?? null,
    platforms: p ? p.images.map((i) => ({ platform: formatPlatform(i.platform), manifest: i.manifest.digest, config: i.config.digest })) : [],
    bytes: p ? planSize(p) : 0,
    downloadedBytes: r.fetch?.downloadedBytes ?? 0,
    blobsDownloaded: r.fetch?.downloaded ?? 0,
    blobsCached: r.fetch?.cached ?? 0,
    status: status ?? (r.error ? 'failed' : 'ok'),
    error: r.error ? errorJson(r.error) : null,
    notes: p?.notes ?? [],
  };
}

export function runReport(command: string, bundle: { path: string; sha256: string; bytes: number } | null, images: ImageReport[], status: string): unknown {
  return {
    command,
    status,
    bundle,
    images,
    summary: {
      images: images.length,
      ok: images.filter((i) => i.status === 'ok').length,
      unchanged: images.filter((i) => i.status === 'unchanged').length,
      failed: images.filter((i) => i.status === 'failed').length,
      downloadedBytes: images.reduce((n, i) => n + i.downloadedBytes, 0),
    },
  };
}
