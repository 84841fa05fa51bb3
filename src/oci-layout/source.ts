/**
 * An OCI image layout directory as an ImageSource: a name is an index.json entry's ref.name,
 * a digest a file under blobs/. Referrers: the layout has no API, but entries whose manifest has
 * a `subject` are listed as referrers, unless the layout holds the referrers tag schema's index
 * for that subject (`sha256-<hex>`), which the caller then reads as a registry's.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { DigestMismatchError, FerryError } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
import { MAX_MANIFEST_BYTES, parseManifest, type Descriptor, type FetchedManifest } from '../oci/manifest.js';
import type { BlobOpener, ImageSource } from '../content/image-source.js';
import { fallbackTag } from '../oci/referrer-tags.js';
import type { Reference } from '../reference/parse-reference.js';
import { REF_NAME, blobFile, readLayoutIndex } from './layout-dir.js';

export class OciLayoutSource implements ImageSource {
  readonly description: string;
  private entries: Descriptor[] | undefined;

  constructor(readonly dir: string) {
    this.description = `oci:${dir}`;
  }

  private async index(): Promise<Descriptor[]> {
    this.entries ??= await readLayoutIndex(this.dir);
    return this.entries;
  }

  /** The index.json entry a name (or, with none given, the only entry) stands for. */
  async entryFor(name: string | undefined): Promise<Descriptor> {
    const entries = await this.index();
    const named = name === undefined ? (entries.length === 1 ? entries : []) : entries.filter((e) => e.annotations?.[REF_NAME] === name);
    if (named.length === 1) return named[0]!;
    const names = entries.map((e) => e.annotations?.[REF_NAME]).filter(Boolean).join(', ') || 'none';
    throw new FerryError(name === undefined ? 'USAGE' : 'NOT_FOUND', name === undefined ? `oci:${this.dir} holds ${entries.length} images: name one (oci:${this.dir}:NAME); its names: ${names}` : `oci:${this.dir} has no image named "${name}" (its names: ${names})`);
  }

  async manifest(_repository: string, ref: string, what: string, optional = false): Promise<FetchedManifest | undefined> {
    let digest = ref;
    if (!ref.startsWith('sha256:')) {
      const hit = (await this.index()).find((e) => e.annotations?.[REF_NAME] === ref);
      if (!hit) {
        if (optional) return undefined;
        return (await this.entryFor(ref)) as never;
      }
      digest = hit.digest;
    }
    const file = blobFile(this.dir, digest);
    const size = (await stat(file).catch(() => undefined))?.size;
    if (size === undefined) {
      if (optional) return undefined;
      throw new FerryError('NOT_FOUND', `${what}: manifest ${digest} is not in oci:${this.dir}`);
    }
    if (size > MAX_MANIFEST_BYTES) throw new FerryError('BUNDLE_FORMAT', `${what}: manifest ${digest} in oci:${this.dir} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    const raw = await readFile(file);
    const actual = sha256Digest(raw);
    if (actual !== digest) throw new DigestMismatchError(`${what}: manifest in oci:${this.dir}`, digest, actual);
    const parsed = parseManifest(raw, undefined, what);
    return { raw, mediaType: parsed.mediaType, digest, parsed };
  }

  async referrers(_repository: string, digest: string, what: string): Promise<Descriptor[] | undefined> {
    const entries = await this.index();
    if (entries.some((e) => e.annotations?.[REF_NAME] === fallbackTag(digest))) return undefined;
    const out: Descriptor[] = [];
    for (const e of entries) {
      const m = await this.manifest('', e.digest, what, true);
      if (m?.parsed.subject?.digest === digest && !e.annotations?.[REF_NAME]?.startsWith('sha256-')) out.push(e);
    }
    return out.length ? out : undefined;
  }

  blob(_ref: Reference, blob: Descriptor, what: string): BlobOpener {
    return async (offset, end) => {
      const file = blobFile(this.dir, blob.digest);
      if (!(await stat(file).catch(() => undefined))) throw new FerryError('NOT_FOUND', `${what}: blob ${blob.digest} is not in oci:${this.dir}`);
      return { body: createReadStream(file, { start: offset, ...(end !== undefined ? { end } : {}), highWaterMark: 1024 * 1024 }), start: offset };
    };
  }

  async close(): Promise<void> {}
}
