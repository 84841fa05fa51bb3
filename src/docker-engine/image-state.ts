/**
 * What an engine holds of an image before `ferry load` touches it, and setting its tags: the
 * image (by ID, the config digest) may be absent, present with every tag naming it, or present
 * with tags that are missing or name another image (the tag was moved since, or removed).
 */
import type { DockerEngine } from './engine.js';

/** How `ferry load` left an image: loaded into the engine, only re-tagged, or left alone. */
export type LoadStatus = 'loaded' | 'tagged' | 'present';

export type ImageState = { kind: 'absent' } | { kind: 'present' } | { kind: 'mistagged'; tags: string[] };

/** Reads the state of image `id` and its `tags` (`repo:tag`). Throws ENGINE when the engine fails. */
export async function imageState(engine: DockerEngine, id: string, tags: readonly string[]): Promise<ImageState> {
  if ((await engine.imageId(id)) !== id) return { kind: 'absent' };
  const wrong: string[] = [];
  for (const t of tags) if ((await engine.imageId(t)) !== id) wrong.push(t);
  return wrong.length ? { kind: 'mistagged', tags: wrong } : { kind: 'present' };
}

/** Points each of `tags` at image `id` (POST /images/{id}/tag). */
export async function retag(engine: DockerEngine, id: string, tags: readonly string[]): Promise<void> {
  for (const t of tags) await engine.tag(id, t);
}
