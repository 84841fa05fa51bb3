/**
 * skopeo as an independent oracle and copier: what a registry reports for a reference, and
 * registry-to-registry copies that keep manifests byte for byte (so digests are preserved).
 * Loopback registries are plain HTTP, hence `--tls-verify=false` everywhere.
 */
import { createHash } from 'node:crypto';
import { runOk } from './processes.js';
import type { Credentials } from './token-issuer.js';

function credsArgs(flag: string, c: Credentials | undefined): string[] {
  return c ? [flag, `${c.user}:${c.password}`] : [];
}

/** The raw manifest (or index) bytes the registry serves for `ref` (host/repo:tag). */
export function rawManifest(ref: string, creds?: Credentials): Promise<string> {
  return runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', ...credsArgs('--creds', creds), `docker://${ref}`]);
}

/** sha256 of `text` as "sha256:<hex>". */
export function sha256(text: string | Buffer): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

/** The manifest digest the registry reports for `ref`: sha256 of its raw manifest bytes. */
export async function registryDigest(ref: string, creds?: Credentials): Promise<string> {
  return sha256(await rawManifest(ref, creds));
}

/** Copies `src` to `dst` (both host/repo:tag) with every platform of an index. */
export async function copyImage(
  src: string,
  dst: string,
  opts: { srcCreds?: Credentials; destCreds?: Credentials } = {},
): Promise<void> {
  await runOk('skopeo', [
    'copy', '--all', '--quiet', '--src-tls-verify=false', '--dest-tls-verify=false',
    ...credsArgs('--src-creds', opts.srcCreds), ...credsArgs('--dest-creds', opts.destCreds),
    `docker://${src}`, `docker://${dst}`,
  ]);
}
