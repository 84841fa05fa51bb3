/** Digests (OCI image-spec descriptor.md#digests): `algorithm:hex`, sha256 only for content ferry writes. */
import { createHash } from 'node:crypto';
import { FerryError } from '../errors.js';

const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** Returns `d` when it is a sha256 digest; throws BUNDLE_FORMAT or `code` otherwise. */
export function assertDigest(d: unknown, where: string): string {
  if (typeof d !== 'string' || !SHA256.test(d)) {
    throw new FerryError('BUNDLE_FORMAT', `${where}: "${String(d)}" is not a sha256 digest`);
  }
  return d;
}

/** The sha256 digest of a buffer, as `sha256:<hex>`. */
export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex part of a digest. */
export function digestHex(d: string): string {
  return d.slice(d.indexOf(':') + 1);
}

/** The blob path of a digest inside an OCI layout: `blobs/sha256/<hex>`. */
export function blobPath(d: string): string {
  const i = d.indexOf(':');
  return `blobs/${d.slice(0, i)}/${d.slice(i + 1)}`;
}
