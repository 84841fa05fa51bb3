/**
 * Error answers of the distribution spec (OCI distribution-spec "Error Codes"): a status and a
 * body `{"errors":[{"code","message","detail"}]}`.
 */
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'PAGINATION_NUMBER_INVALID'
  | 'RANGE_INVALID'
  | 'TAG_INVALID'
  | 'UNAUTHORIZED'
  | 'UNSUPPORTED'
  | 'UNKNOWN';

/** An error answer: thrown by the routes, written by the handler. */
export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: RegistryErrorCode,
    message: string,
    readonly detail?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RegistryError';
  }

  /** The spec's JSON body. */
  body(): Buffer {
    const e: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.detail !== undefined) e.detail = this.detail;
    return Buffer.from(`${JSON.stringify({ errors: [e] })}\n`);
  }
}

export const nameUnknown = (name: string): RegistryError => new RegistryError(404, 'NAME_UNKNOWN', 'repository name not known to registry', { name });
export const manifestUnknown = (name: string, reference: string): RegistryError => new RegistryError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { name, reference });
export const blobUnknown = (digest: string): RegistryError => new RegistryError(404, 'BLOB_UNKNOWN', 'blob unknown to registry', { digest });
export const digestInvalid = (digest: string): RegistryError => new RegistryError(400, 'DIGEST_INVALID', 'provided digest is not a valid digest', { digest });
export const readOnly = (method: string): RegistryError =>
  new RegistryError(405, 'UNSUPPORTED', `the operation is unsupported: ferry serve is read-only (${method})`, undefined, { allow: 'GET, HEAD' });
