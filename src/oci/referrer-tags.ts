/**
 * The tags referrers are published under where a registry has no referrers API: the OCI 1.1
 * referrers tag schema (distribution-spec "Referrers tag schema": `sha256-<hex>` holds an index of
 * the referrers of that digest) and cosign's conventions (`sha256-<hex>.sig`, `.att`, `.sbom`).
 */
import { digestHex } from '../digest/digest.js';

/** cosign's tag suffixes: signatures, attestations, SBOMs. */
export const COSIGN_SUFFIXES = ['sig', 'att', 'sbom'] as const;

/** The referrers tag schema's tag for a subject digest: `sha256-<hex>`. */
export const fallbackTag = (digest: string): string => `sha256-${digestHex(digest)}`;
