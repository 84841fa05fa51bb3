/**
 * What an import run does with each file of a drop directory, decided from a listing and the
 * journal only (no I/O here, so every rule has a table test). A bundle is taken only when it
 * is complete: its `.sha256` sidecar is there and the bundle hashes to it. One that does not
 * (yet) is "waiting" when it may still be arriving (no sidecar, a size or modification time
 * that changed within the settle time or during the hash) and "damaged" when it stopped
 * changing and still does not match. A bundle whose sha256 the journal holds is "duplicate"
 * ("already imported"): a re-delivery is a no-op.
 */
import type { JournalEntry } from './journal.js';

/** One directory entry of the drop directory (regular files only). */
export interface DropFile {
  name: string;
  size: number;
  mtimeMs: number;
}

/** A bundle of the drop directory and its sidecar, if there is one. */
export interface DropBundle {
  name: string;
  size: number;
  mtimeMs: number;
  /** The sidecar's file name, when it exists. */
  sidecar?: string;
}

export interface DropListing {
  bundles: DropBundle[];
  /** Sidecars without their bundle (the bundle is still on its way, or an earlier run moved it). */
  orphanSidecars: string[];
}

/** Whether a file name is a bundle ferry imports (.tar.gz, .tgz, .tar). */
export const isBundleName = (name: string): boolean => /\.(tar\.gz|tgz|tar)$/.test(name) && !name.startsWith('.');

/**
 * Sorts a listing into bundles (with their sidecars) and sidecars on their own. Hidden files
 * and temporary ones (`.partial`, anything that is neither a bundle nor a sidecar) are left
 * out: a writer that renames into place is never seen half-written. Bundles come sorted by name.
 */
export function listDrop(files: readonly DropFile[]): DropListing {
  const names = new Set(files.map((f) => f.name));
  const bundles = files
    .filter((f) => isBundleName(f.name))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((f) => ({ name: f.name, size: f.size, mtimeMs: f.mtimeMs, ...(names.has(`${f.name}.sha256`) ? { sidecar: `${f.name}.sha256` } : {}) }));
  const orphanSidecars = files
    .filter((f) => f.name.endsWith('.sha256') && !f.name.startsWith('.') && isBundleName(f.name.slice(0, -'.sha256'.length)) && !names.has(f.name.slice(0, -'.sha256'.length)))
    .map((f) => f.name)
    .sort();
  return { bundles, orphanSidecars };
}

/** What was found out about one bundle before deciding. */
export interface BundleCheck {
  /** The hex the sidecar names; undefined when there is no sidecar or it is not one. */
  sidecarHex: string | undefined;
  /** The bundle's sha256 hex and size as hashed; undefined when it was not hashed (no sidecar). */
  hashed?: { sha256: string; bytes: number };
  /** Size and modification time before the hash and after it. */
  before: { size: number; mtimeMs: number };
  after?: { size: number; mtimeMs: number };
}

export type Decision =
  | { kind: 'import'; sha256: string }
  | { kind: 'duplicate'; sha256: string; entry: JournalEntry }
  | { kind: 'waiting'; why: string }
  | { kind: 'damaged'; why: string };

/**
 * Decides one bundle: see the file comment. `now` and `settleMs` (how long a file must have
 * stood still to be judged) make the "still arriving" rule testable.
 */
export function decide(name: string, c: BundleCheck, imported: ReadonlyMap<string, JournalEntry>, now: number, settleMs: number): Decision {
  if (!c.sidecarHex) return { kind: 'waiting', why: `its checksum file ${name}.sha256 is missing or incomplete` };
  const changing = c.after !== undefined && (c.after.size !== c.before.size || c.after.mtimeMs !== c.before.mtimeMs);
  if (changing) return { kind: 'waiting', why: 'it is still being written (its size or time changed while it was read)' };
  if (!c.hashed) return { kind: 'waiting', why: 'it could not be read yet' };
  if (c.hashed.sha256 !== c.sidecarHex) {
    if (now - c.before.mtimeMs < settleMs) return { kind: 'waiting', why: `it does not match its checksum file yet and was modified less than ${Math.round(settleMs / 1000)}s ago (still arriving?)` };
    return {
      kind: 'damaged',
      why: `it does not match its checksum file: sha256 ${c.hashed.sha256} (${c.hashed.bytes} bytes), the checksum file says ${c.sidecarHex}; it was damaged or changed after it was written`,
    };
  }
  const entry = imported.get(c.hashed.sha256);
  if (entry) return { kind: 'duplicate', sha256: c.hashed.sha256, entry };
  return { kind: 'import', sha256: c.hashed.sha256 };
}

/**
 * The exit status of a run from its counts (docs/import.md): 0 when nothing failed (all
 * imported, or nothing was waiting), 3 when some failed and some were imported, 1 when some
 * failed and none was imported.
 */
export function runStatus(counts: { imported: number; failed: number }): 'ok' | 'partial' | 'failed' {
  if (counts.failed === 0) return 'ok';
  return counts.imported > 0 ? 'partial' : 'failed';
}
