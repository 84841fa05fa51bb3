import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest/digest.js';
import type { ImageSource } from '../content/image-source.js';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan, PlannedManifest } from '../content/plan.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { copyImages } from './copy.js';

const blobDesc = (data: string, mediaType: string = MediaType.ociLayerGzip): Descriptor => ({ mediaType, digest: sha256Digest(Buffer.from(data)), size: data.length });

/** A source serving `blobs` (digest -> bytes); `corrupt` serves other bytes for that digest. */
function source(blobs: Map<string, string>, corrupt?: string): ImageSource {
  return {
    description: 'memory',
    manifest: async () => undefined,
    referrers: async () => undefined,
    blob: (_repo, d) => async () => ({ body: Readable.from([Buffer.from(d.digest === corrupt ? 'tampered' : blobs.get(d.digest)!)]), start: 0 }),
    close: async () => undefined,
  };
}

/** A sink that records the order of calls and reads every blob to the end. */
function sink(): ImageSink & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    description: 'memory',
    concurrency: 2,
    async putBlob(_p: ImagePlan, d: Descriptor, content: BlobContent): Promise<BlobOutcome> {
      for await (const _ of content.open(0, d.size - 1)) void _;
      calls.push(`blob ${d.digest.slice(7, 11)}`);
      return 'uploaded';
    },
    async putManifest(_p: ImagePlan, m: PlannedManifest, tag: string | undefined): Promise<void> {
      calls.push(`manifest ${m.digest.slice(7, 11)}${tag ? `:${tag}` : ''}`);
    },
    async finishImage(p: ImagePlan): Promise<void> {
      calls.push(`finish ${p.request}`);
    },
    async commit(): Promise<void> {
      calls.push('commit');
    },
    async abort(): Promise<void> {
      calls.push('abort');
    },
  };
}

function plan(request: string, layers: string[], blobs: Map<string, string>): ImagePlan {
  const config = blobDesc(`config of ${request}`, MediaType.ociConfig);
  blobs.set(config.digest, `config of ${request}`);
  const ls = layers.map((l) => {
    const d = blobDesc(l);
    blobs.set(d.digest, l);
    return d;
  });
  const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers: ls }));
  const manifest: Descriptor = { mediaType: MediaType.ociManifest, digest: sha256Digest(raw), size: raw.length };
  return {
    request,
    ref: { registry: 'r', repository: request, tag: '1', digest: undefined },
    name: `r/${request}:1`,
    root: manifest,
    upstreamDigest: manifest.digest,
    manifests: [{ digest: manifest.digest, mediaType: manifest.mediaType, raw }],
    images: [{ platform: undefined, manifest, config, layers: ls, kind: 'image' }],
    notes: [],
  };
}

describe('copy engine', () => {
  it('writes every blob before any manifest, each shared blob once, the root under its tag, then commits', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['shared layer', 'layer of a'], blobs);
    const b = plan('b', ['shared layer'], blobs);
    const s = sink();
    const out = await copyImages(source(blobs), [a, b], s);
    const firstManifest = s.calls.findIndex((c) => c.startsWith('manifest'));
    expect(s.calls.slice(0, firstManifest).every((c) => c.startsWith('blob'))).toBe(true);
    expect(s.calls.filter((c) => c.startsWith('blob'))).toHaveLength(4); // 2 configs, 2 distinct layers
    expect(s.calls.slice(firstManifest)).toEqual([`manifest ${a.root.digest.slice(7, 11)}:1`, 'finish a', `manifest ${b.root.digest.slice(7, 11)}:1`, 'finish b', 'commit']);
    expect(out.images[1]!.blobs).toEqual({ exists: 1, mounted: 0, uploaded: 1 });
  });

  it('a blob whose bytes do not match its digest fails the copy, aborts the sink, and writes no manifest', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['good layer', 'bad layer'], blobs);
    const bad = a.images[0]!.layers[1]!.digest;
    const s = sink();
    await expect(copyImages(source(blobs, bad), [a], s)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(s.calls.some((c) => c.startsWith('manifest'))).toBe(false);
    expect(s.calls).toContain('abort');
    expect(s.calls).not.toContain('commit');
  });
});

describe('copy engine after a failure', () => {
  it('starts no queued blob once one has failed, and aborts only after every started blob ended', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['bad first', 'l2', 'l3', 'l4', 'l5'], blobs);
    const bad = a.images[0]!.layers[0]!.digest;
    const s = sink();
    const one = { ...s, concurrency: 1 };
    await expect(copyImages(source(blobs, bad), [a], one)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    // The config went first, then the bad layer failed: nothing after it started.
    expect(s.calls.filter((c) => c.startsWith('blob'))).toHaveLength(1);
    expect(s.calls.at(-1)).toBe('abort');
  });
});

describe('copy engine with isolate', () => {
  it("an image's failure is its own: the others are written, and it is reported with its error", async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['layer of a'], blobs);
    const b = plan('b', ['bad layer of b'], blobs);
    const s = sink();
    const bad = b.images[0]!.layers[0]!.digest;
    const out = await copyImages(source(blobs, bad), [a, b], s, { isolate: true });
    expect(out.fatal).toBeUndefined();
    expect(out.images[0]!.error).toBeUndefined();
    expect(out.images[1]!.error).toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(s.calls).toContain(`manifest ${a.root.digest.slice(7, 11)}:1`);
    expect(s.calls.some((c) => c === `manifest ${b.root.digest.slice(7, 11)}:1`)).toBe(false);
    expect(s.calls.at(-1)).toBe('commit');
  });

  it('damage in a one-file source stops every image before any manifest', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['layer of a'], blobs);
    const b = plan('b', ['bad layer of b'], blobs);
    const s = sink();
    const bad = b.images[0]!.layers[0]!.digest;
    const out = await copyImages({ ...source(blobs, bad), oneFile: true }, [a, b], s, { isolate: true });
    expect(out.fatal).toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(out.images.every((i) => i.error === out.fatal)).toBe(true);
    expect(s.calls.some((c) => c.startsWith('manifest'))).toBe(false);
    expect(s.calls.at(-1)).toBe('abort');
  });

  it("a sink's fatal failure stops all; prepare's failure stops all before any blob", async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['layer of a'], blobs);
    const s = sink();
    const refused = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    const failing = { ...s, prepare: async () => Promise.reject(refused) };
    const out = await copyImages(source(blobs), [a], failing, { isolate: true });
    expect(out.fatal).toBeDefined();
    expect(out.images[0]!.error).toBe(out.fatal);
    expect(s.calls.filter((c) => c.startsWith('blob'))).toHaveLength(0);
  });

  it('calls configsIn for an image after its configs and before its layers', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['l1', 'l2'], blobs);
    const s = sink();
    const one = { ...s, concurrency: 1, configsIn: (p: ImagePlan) => void s.calls.push(`configs ${p.request}`) };
    await copyImages(source(blobs), [a], one);
    expect(s.calls.slice(0, 2)).toEqual([`blob ${a.images[0]!.config.digest.slice(7, 11)}`, 'configs a']);
  });

  it('writes a blob once per sink key: a sink that keys by repository gets it for each', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['shared'], blobs);
    const b = plan('b', ['shared'], blobs);
    const s = sink();
    const keyed = { ...s, blobKey: (p: ImagePlan, d: Descriptor) => `${p.request}@${d.digest}` };
    await copyImages(source(blobs), [a, b], keyed);
    expect(s.calls.filter((c) => c.startsWith('blob'))).toHaveLength(4);
  });

  it('a sink that takes blobs before prepare gets the blobs of a resolved image while another resolves; prepare and manifests wait for every plan', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['layer of a'], blobs);
    const b = plan('b', ['layer of b'], blobs);
    const c = plan('c', ['layer of c'], blobs);
    let resolveB!: (p: ImagePlan) => void;
    const laterB = new Promise<ImagePlan>((res) => (resolveB = res));
    const s = Object.assign(sink(), {
      blobsBeforePrepare: true,
      async prepare(plans: readonly ImagePlan[]): Promise<void> {
        s.calls.push(`prepare ${plans.map((p) => p.request).join(',')}`);
      },
      planMissing(): void {
        s.calls.push('missing');
      },
    });
    const copying = copyImages(source(blobs), [a, laterB, Promise.resolve(undefined), c], s, { isolate: true });
    // a's and c's blobs move while b still resolves.
    for (let i = 0; i < 50 && s.calls.filter((x) => x.startsWith('blob')).length < 4; i++) await new Promise((r) => setTimeout(r, 1));
    expect(s.calls.filter((x) => x.startsWith('blob'))).toHaveLength(4);
    expect(s.calls.some((x) => x.startsWith('prepare') || x.startsWith('manifest'))).toBe(false);
    resolveB(b);
    const out = await copying;
    expect(out.images.map((i) => i.plan.request)).toEqual(['a', 'b', 'c']);
    expect(out.images.every((i) => !i.error)).toBe(true);
    const prepared = s.calls.indexOf('prepare a,b,c');
    expect(s.calls.indexOf('missing')).toBeLessThan(prepared);
    expect(s.calls.filter((x) => x.startsWith('blob'))).toHaveLength(6);
    const lastBlob = s.calls.map((x) => x.startsWith('blob')).lastIndexOf(true);
    expect(s.calls.findIndex((x) => x.startsWith('manifest'))).toBeGreaterThan(lastBlob);
    expect(s.calls.findIndex((x) => x.startsWith('manifest'))).toBeGreaterThan(prepared);
  });

  it('a sink without blobsBeforePrepare gets no blob before every plan resolved and prepare ran', async () => {
    const blobs = new Map<string, string>();
    const a = plan('a', ['layer of a'], blobs);
    const b = plan('b', ['layer of b'], blobs);
    let resolveB!: (p: ImagePlan) => void;
    const s = Object.assign(sink(), {
      async prepare(plans: readonly ImagePlan[]): Promise<void> {
        s.calls.push(`prepare ${plans.length}`);
      },
    });
    const copying = copyImages(source(blobs), [a, new Promise<ImagePlan>((res) => (resolveB = res))], s);
    await new Promise((r) => setTimeout(r, 5));
    expect(s.calls).toEqual([]);
    resolveB(b);
    await copying;
    expect(s.calls[0]).toBe('prepare 2');
  });
});
