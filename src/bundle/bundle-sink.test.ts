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
});
