/**
 * Which tar entries a bundle reader accepts. A bundle holds only regular files (and directory
 * entries, which are ignored) with relative names inside the archive: no `..` components, no
 * absolute paths, no links, devices or FIFOs. Anything else is rejected, naming the entry.
 */
import { FerryError } from '../errors.js';

/** A blob entry of an OCI layout, `blobs/sha256/<hex>`: its content must hash to its name. */
export const BLOB_ENTRY = /^blobs\/sha256\/([a-f0-9]{64})$/;

/** The entry's normalised name (`./` prefixes dropped), or throws BUNDLE_FORMAT. */
export function checkEntryName(name: string): string {
  const bad = (why: string): FerryError =>
    new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" is rejected: ${why}`, { hint: 'the archive is damaged or was not made by a container tool; do not use it' });
  if (name.includes('\0')) throw bad('its name contains a NUL byte');
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) throw bad('it has an absolute path');
  if (name.includes('\\')) throw bad('its name contains a backslash');
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw bad('its path leaves the archive (..)');
  if (parts.length === 0) throw bad('its name is empty');
  return parts.join('/');
}

const LEGACY_LAYER = /^[a-f0-9]{64}\/layer\.tar$/;
/** Where a legacy layer link may point: another layer directory's layer.tar (docker save) or a top-level `<hex>.tar` (skopeo docker-archive). */
const LAYER_TARGET = /^[a-f0-9]{64}(\/layer\.tar|\.tar)$/;

/**
 * The links ferry accepts: legacy `docker save` (Docker <= 24) writes a shared layer once and
 * links `<id>/layer.tar -> ../<other-id>/layer.tar`; skopeo's docker-archive links
 * `<id>/layer.tar -> ../<hex>.tar`. Returns the target's archive name; any other link is
 * rejected. The link is only an alias while reading; nothing is ever created on disk.
 */
export function checkLayerLink(name: string, linkname: string | null | undefined): string {
  const link = linkname ?? '';
  const resolved = link.startsWith('../') ? link.slice(3) : '';
  if (!LEGACY_LAYER.test(name) || !LAYER_TARGET.test(resolved)) {
    throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" is rejected: it is a symlink (to "${link}"), and a bundle holds only regular files`, {
      hint: "links are never part of a ferry bundle; only docker save's and skopeo's layer links between layer files are accepted",
    });
  }
  return resolved;
}

/** Tar entry types that may appear in a bundle; others are rejected with their type named. */
export function checkEntryType(name: string, type: string | null | undefined): 'file' | 'directory' | 'symlink' | 'skip' {
  if (type === 'file' || type === 'contiguous-file') return 'file';
  if (type === 'symlink') return 'symlink';
  if (type === 'directory') return 'directory';
  if (type === 'pax-header' || type === 'pax-global-header' || type === 'gnu-long-path' || type === 'gnu-long-link-path') return 'skip';
  throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" is rejected: it is a ${type ?? 'unknown'} entry, and a bundle holds only regular files`, {
    hint: 'links and device files are never part of an image archive; the archive is damaged or hostile',
  });
}
