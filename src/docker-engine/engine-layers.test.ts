import { describe, expect, it } from 'vitest';
import { engineLayers } from './engine-layers.js';
import type { DockerEngine } from './engine.js';

/** An engine that lists these images (id -> RootFS diff_ids). */
const engineWith = (images: Record<string, string[]>): DockerEngine =>
  ({
    imageIds: async () => Object.keys(images),
    imageLayers: async (id: string) => images[id] ?? null,
  }) as unknown as DockerEngine;

describe('engineLayers: a layer is held only with the same layers below it (the chain docker load looks up)', () => {
  const cases: Array<{ what: string; images: Record<string, string[]>; diffIds: string[]; index: number; held: boolean }> = [
    { what: 'the base layer of an image the engine has', images: { a: ['d1', 'd2'] }, diffIds: ['d1', 'dX'], index: 0, held: true },
    { what: 'a middle layer with the same layers below', images: { a: ['d1', 'd2', 'd3'] }, diffIds: ['d1', 'd2', 'dX'], index: 1, held: true },
    { what: 'the same diff_id on another base', images: { a: ['d0', 'd2'] }, diffIds: ['d1', 'd2'], index: 1, held: false },
    { what: 'a layer no image has', images: { a: ['d1'] }, diffIds: ['d9'], index: 0, held: false },
    { what: 'an empty engine', images: {}, diffIds: ['d1'], index: 0, held: false },
    { what: 'one of two images holds it', images: { a: ['d7'], b: ['d1', 'd2'] }, diffIds: ['d1', 'd2', 'd3'], index: 1, held: true },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      expect((await engineLayers(engineWith(c.images))).has(c.diffIds, c.index)).toBe(c.held);
    });
  }
});
