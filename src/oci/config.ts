/** What ferry reads from an image config (OCI image-spec config.md): platform and diff_ids. */
import type { Platform } from './manifest.js';

export interface ImageConfigInfo {
  platform: Platform | undefined;
  diffIds: string[];
  /** `created` in milliseconds since the epoch, when it is a valid date. */
  created: number | undefined;
}

/** Parses config bytes; undefined when they are not a JSON object (an artifact, or damage). */
export function parseImageConfig(raw: Buffer): ImageConfigInfo | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return undefined;
  const c = doc as { created?: unknown; os?: unknown; architecture?: unknown; variant?: unknown; rootfs?: { diff_ids?: unknown } };
  const platform =
    typeof c.os === 'string' && typeof c.architecture === 'string'
      ? { os: c.os, architecture: c.architecture, ...(typeof c.variant === 'string' ? { variant: c.variant } : {}) }
      : undefined;
  const ids = c.rootfs?.diff_ids;
  const created = typeof c.created === 'string' ? Date.parse(c.created) : NaN;
  return { platform, diffIds: Array.isArray(ids) ? ids.filter((d): d is string => typeof d === 'string') : [], created: Number.isFinite(created) ? created : undefined };
}
