/**
 * Several ServedContents served as one: names in order (Repositories settles conflicts), and a
 * manifest or blob from the first content that has it, so a blob two bundles carry is one
 * digest to the Verifier and is checked and served once.
 */
import type { Descriptor } from '../oci/manifest.js';
import type { ServedBlob, ServedContent, ServedManifest, ServedName } from './content.js';

export class MergedContent implements ServedContent {
  constructor(private readonly parts: readonly ServedContent[]) {}

  names(): readonly ServedName[] {
    return this.parts.flatMap((p) => p.names());
  }

  async manifest(digest: string): Promise<ServedManifest | undefined> {
    for (const p of this.parts) {
      const m = await p.manifest(digest);
      if (m) return m;
    }
    return undefined;
  }

  async blob(digest: string): Promise<ServedBlob | undefined> {
    for (const p of this.parts) {
      const b = await p.blob(digest);
      if (b) return b;
    }
    return undefined;
  }

  referrers(subject: string): readonly Descriptor[] {
    const seen = new Set<string>();
    return this.parts.flatMap((p) => p.referrers(subject)).filter((d) => !seen.has(d.digest) && (seen.add(d.digest), true));
  }
}
