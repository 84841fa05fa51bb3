/**
 * Reading a bundle with independent tools, as an oracle: GNU tar extracts it (`-xzf`, or
 * `-xf` for an uncompressed one), and every blob is re-hashed against its file name.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import { runOk } from './processes.js';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

export interface ExtractedBundle {
  dir: string;
  /** Entry names in archive order, as `tar -t` lists them. */
  entries: string[];
  index: { schemaVersion: number; manifests: Descriptor[] };
  dockerManifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[];
  /** Reads blobs/sha256/<hex> for a "sha256:<hex>" digest as text. */
  blobText(digest: string): string;
  /** Blob digests whose content does not hash to their file name (should be empty). */
  badBlobs(): Promise<string[]>;
}

/** Extracts `file` into `dir` with tar; `gzip` selects -z. Throws if tar fails. */
export async function extractBundle(file: string, dir: string, gzip = true): Promise<ExtractedBundle> {
  mkdirSync(dir, { recursive: true });
  const listing = await runOk('tar', [gzip ? '-tzf' : '-tf', file]);
  await runOk('tar', [gzip ? '-xzf' : '-xf', file, '-C', dir]);
  const json = <T>(name: string): T => JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
  const blobPath = (d: string) => join(dir, 'blobs', 'sha256', d.replace(/^sha256:/, ''));
  return {
    dir,
    entries: listing.split('\n').filter(Boolean),
    index: json('index.json'),
    dockerManifest: json('manifest.json'),
    blobText: (d) => readFileSync(blobPath(d), 'utf8'),
    async badBlobs() {
      const bad: string[] = [];
      for (const hex of readdirSync(join(dir, 'blobs', 'sha256'))) {
        if ((await hashFile(join(dir, 'blobs', 'sha256', hex))) !== hex) bad.push(`sha256:${hex}`);
      }
      return bad;
    },
  };
}

function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}
