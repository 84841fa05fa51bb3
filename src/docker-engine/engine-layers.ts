/**
 * Which layers a Docker engine already holds, as the engine's own `docker load` decides it: a
 * layer is reused when the engine has its chain (moby image/tarexport/load.go asks the layer
 * store for the ChainID of the diff_ids up to and including it, and reads the layer file from
 * the archive only when that fails). The Engine API has no "has layer" call, so the chains are
 * read from the RootFS of every image the engine lists.
 */
import type { DockerEngine } from './engine.js';

export interface EngineLayers {
  /** Whether the engine holds the layer at `index` of an image with these diff_ids (and every layer below it). */
  has(diffIds: readonly string[], index: number): boolean;
}

const chainKey = (diffIds: readonly string[], end: number): string => diffIds.slice(0, end + 1).join(' ');

/** Reads every image's RootFS layers. Throws ENGINE when the engine fails. */
export async function engineLayers(engine: DockerEngine): Promise<EngineLayers> {
  const chains = new Set<string>();
  for (const id of await engine.imageIds()) {
    const layers = (await engine.imageLayers(id)) ?? [];
    for (let i = 0; i < layers.length; i++) chains.add(chainKey(layers, i));
  }
  return { has: (diffIds, index) => chains.has(chainKey(diffIds, index)) };
}
