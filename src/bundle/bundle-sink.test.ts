import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan } from '../content/plan.js';
import type { Descriptor } from '../oci/manifest.js';
import { BundleSink } from './bundle-sink.js';
import type { WrittenBundle } from './writer.js';

const plan = (request: string): ImagePlan => ({ request }) as unknown as ImagePlan;
const blob = (digest: string): Descriptor => ({ mediaType: 'x', digest, size: 1 });
const content: BlobContent = { open: () => Readable.from([Buffer.from('x')]) };

/** A cache sink that says each blob is new (uploaded). */
function cache(): ImageSink {
  return {
    description: 'cache',
    concurrency: 2,
    putBlob: async (): Promise<BlobOutcome> => 'uploaded',
    putManifest: async () => undefined,
    finishImage: async () => undefined,
    commit: async () => undefined,
    abort: async () => undefined,
  };
}

const written: WrittenBundle = { path: 'out', sha256: 'x', bytes: 1 } as WrittenBundle;

describe('bundle sink', () => {
  it('starts the writer once every image is configured; ready() follows the cache; commit keeps the bundle', async () => {
    const events: string[] = [];
    const sink = new BundleSink(cache(), async (plans, ready) => {
      events.push(`write ${plans.map((p) => p.request).join(',')}`);
      events.push(`ready ${await ready('sha256:1')}`);
      return written;
    }, 'out');
    const [a, b] = [plan('a'), plan('b')];
    await sink.prepare([a, b]);
    sink.configsIn(a);
    expect(events).toEqual([]);
    sink.configsIn(b);
    expect(events).toEqual(['write a,b']);
    await sink.putBlob(a, blob('sha256:1'), content, () => undefined);
    await sink.commit();
    expect(events).toEqual(['write a,b', 'ready true']);
    expect(sink.written).toBe(written);
  });

  it('an image failure abandons the write: ready() rejects and commit writes nothing', async () => {
    let rejected: unknown;
    const sink = new BundleSink(cache(), async (_plans, ready) => {
      try {
        await ready('sha256:never');
      } catch (e) {
        rejected = e;
        throw e;
      }
      return written;
    }, 'out');
    const a = plan('a');
    await sink.prepare([a]);
    sink.configsIn(a);
    sink.imageFailed();
    await sink.commit();
    expect(rejected).toBeInstanceOf(Error);
    expect(sink.written).toBeUndefined();
    expect(sink.writeError).toBeUndefined();
  });

  it("the write's own failure is kept as writeError, not thrown", async () => {
    const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const sink = new BundleSink(cache(), async () => Promise.reject(full), 'out');
    const a = plan('a');
    await sink.prepare([a]);
    sink.configsIn(a);
    await sink.commit();
    expect(sink.writeError).toBe(full);
  });

  it('keeps the bytes of a small blob the cache took whole and verified, for the writer to take once', async () => {
    // A cache that reads the content as the store does: a first attempt that breaks, then a retry from byte 0.
    let attempt = 0;
    const reading: ImageSink = {
      ...cache(),
      putBlob: async (_p, d, c): Promise<BlobOutcome> => {
        for (;;) {
          attempt++;
          const chunks: Buffer[] = [];
          try {
            for await (const x of c.open(0, d.size - 1, { holdLast: false }) as AsyncIterable<Buffer>) chunks.push(x);
            return d.digest === 'sha256:old' ? 'exists' : 'uploaded';
          } catch {
            if (attempt > 1) throw new Error('broken twice');
          }
        }
      },
    };
    const source = (parts: string[], breakFirst: boolean): BlobContent => {
      let n = 0;
      return { open: () => Readable.from((async function* () {
        const first = n++ === 0;
        for (const p of parts) {
          yield Buffer.from(p);
          if (breakFirst && first) throw new Error('connection reset');
        }
      })()) };
    };
    const sink = new BundleSink(reading, async (_plans, ready, take) => {
      await ready('sha256:new');
      expect(take('sha256:new')?.toString()).toBe('abcdef');
      expect(take('sha256:new')).toBeUndefined();
      expect(take('sha256:old')).toBeUndefined();
      return written;
    }, 'out');
    const a = plan('a');
    await sink.prepare([a]);
    await sink.putBlob(a, { mediaType: 'x', digest: 'sha256:new', size: 6 }, source(['abc', 'def'], true), () => undefined);
    await sink.putBlob(a, { mediaType: 'x', digest: 'sha256:old', size: 3 }, source(['old'], false), () => undefined);
    expect(attempt).toBe(3);
    sink.configsIn(a);
    await sink.commit();
    expect(sink.writeError).toBeUndefined();
    expect(sink.written).toBe(written);
  });

  it('blobs and configs may come before prepare: the writer starts once prepare has every plan; a plan that did not resolve abandons it', async () => {
    const started: string[] = [];
    const write = async (plans: ImagePlan[]): Promise<WrittenBundle> => {
      started.push(plans.map((p) => p.request).join(','));
      return written;
    };
    const sink = new BundleSink({ ...cache(), blobsBeforePrepare: true }, write, 'out');
    expect(sink.blobsBeforePrepare).toBe(true);
    const [a, b] = [plan('a'), plan('b')];
    await sink.putBlob(a, blob('sha256:1'), content, () => undefined);
    sink.configsIn(a);
    sink.configsIn(b);
    expect(started).toEqual([]);
    await sink.prepare([a, b]);
    expect(started).toEqual(['a,b']);
    await sink.commit();
    expect(sink.written).toBe(written);

    const other = new BundleSink({ ...cache(), blobsBeforePrepare: true }, write, 'out');
    other.configsIn(a);
    other.planMissing();
    await other.prepare([a]);
    await other.commit();
    expect(started).toEqual(['a,b']);
    expect(other.written).toBeUndefined();
  });
});
