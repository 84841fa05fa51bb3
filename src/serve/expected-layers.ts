/**
 * A differential bundle (ferry.json expectedLayers) is served only together with bundles that
 * carry the layers it builds on: a client pulling its image gets them from those (MergedContent
 * serves a blob from whichever bundle has it). Checked at start-up, so a pull never meets a
 * manifest whose layer the server cannot give.
 */
import type { Interpretation } from '../bundle/contents.js';
import type { ServedContent } from './content.js';

/** The expected layers of `it`'s images that no part of `content` carries, each once, in order. */
export async function unservedExpectedLayers(it: Interpretation, content: ServedContent): Promise<string[]> {
  const missing: string[] = [];
  for (const img of it.images) {
    for (const d of img.plan.expected ?? []) {
      if (!missing.includes(d) && !(await content.blob(d))) missing.push(d);
    }
  }
  return missing;
}
