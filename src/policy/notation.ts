/**
 * Notation (notaryproject) signatures: OCI referrers of artifactType
 * `application/vnd.cncf.notary.signature` (or, from Notation's pre-1.0 releases, a manifest
 * whose config has that media type), carried in the bundle like every referrer and listed by
 * `ls`. ferry does not verify them (JWS or COSE envelopes under an X.509 trust store and a trust
 * policy of Notation's own): a rule that requires them (`require: { notation: true }`) rejects
 * the image, saying how many are present, and never passes it silently.
 */
export const NOTATION_SIGNATURE = 'application/vnd.cncf.notary.signature';

/** Whether a referrer (its descriptor's artifactType and its manifest's bytes) is a Notation signature. */
export function isNotationSignature(artifactType: string | undefined, raw: Buffer | undefined): boolean {
  if (artifactType === NOTATION_SIGNATURE) return true;
  if (!raw) return false;
  try {
    const m = JSON.parse(raw.toString('utf8')) as { artifactType?: unknown; config?: { mediaType?: unknown } };
    return m.artifactType === NOTATION_SIGNATURE || m.config?.mediaType === NOTATION_SIGNATURE;
  } catch {
    return false;
  }
}

/** The verdict's reason for a rule that asks for Notation evidence. */
export const notationReason = (present: number): string => `Notation signatures are not verified by ferry (${present} present)`;
