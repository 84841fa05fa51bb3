/**
 * What an import run does with each file of a drop directory, decided from a listing and the
 * journal only (no I/O here, so every rule has a table test). A bundle is taken only when it
 * is complete: its `.sha256` sidecar is there and the bundle hashes to it. One that does not
 * (yet) is "waiting" when it may still be arriving (no sidecar, a size or modification time
 * that changed within the settle time or during the hash) and "damaged" when it stopped
 * changing and still does not match. A bundle whose sha256 the journal holds is "duplicate"
 * ("already imported"): a re-delivery is a no-op.
 *
 * A volume set (`NAME.001`, `NAME.002`, ... and `NAME.sha256`, one line per volume, as
 * `save --split` writes it) is one bundle named `NAME`: its checksum file lists the volumes,
 * so it is complete when every volume listed is there, no other, and each hashes to its line.
 * Its identity is the sha256 of the concatenation (`cat NAME.0* | sha256sum`, the `sha256` of
 * `save --json`): the same bytes whether delivered as volumes or as one file.
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
  /** The file's name; a set's name (`NAME`, without `.NNN`). */
  name: string;
  /** Bytes (a set's: all its volumes). */
  size: number;
  /** Modification time (a set's: its newest volume's). */
  mtimeMs: number;
  /** The sidecar's file name, when it exists. */
  sidecar?: string;
  /** A volume set: its volumes there, by part number. */
  volumes?: DropFile[];
  /** A set whose name is also a file: which one is meant is not clear. */
  alsoFile?: boolean;
}

export interface DropListing {
  bundles: DropBundle[];
  /** Sidecars without their bundle (the bundle is still on its way, or an earlier run moved it). */
  orphanSidecars: string[];
}

/** Whether a file name is a bundle ferry imports (.tar.gz, .tgz, .tar). */
export const isBundleName = (name: string): boolean => /\.(tar\.gz|tgz|tar)$/.test(name) && !name.startsWith('.');

/** The set and part of a volume name (`NAME.NNN` where NAME is a bundle name), or undefined. */
export function volumeName(name: string): { base: string; part: number } | undefined {
  const m = /^(.+)\.(\d{3})$/.exec(name);
  return m && isBundleName(m[1]!) && Number(m[2]) > 0 ? { base: m[1]!, part: Number(m[2]) } : undefined;
}

/** How people see a bundle: its name, a set's with its count (`prod.tar.gz (3 volumes)`). */
export const displayName = (b: { name: string; volumes?: readonly unknown[] }): string =>
  b.volumes ? `${b.name} (${b.volumes.length} volume${b.volumes.length === 1 ? '' : 's'})` : b.name;

/**
 * Sorts a listing into bundles (with their sidecars) and sidecars on their own. Hidden files
 * and temporary ones (`.partial`, anything that is neither a bundle nor a sidecar) are left
 * out: a writer that renames into place is never seen half-written. Bundles come sorted by name.
 */
export function listDrop(files: readonly DropFile[]): DropListing {
  const names = new Set(files.map((f) => f.name));
  const sets = new Map<string, DropFile[]>();
  for (const f of files) {
    const v = volumeName(f.name);
    if (v) sets.set(v.base, [...(sets.get(v.base) ?? []), f]);
  }
  const side = (name: string) => (names.has(`${name}.sha256`) ? { sidecar: `${name}.sha256` } : {});
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const singles: DropBundle[] = files.filter((f) => isBundleName(f.name) && !sets.has(f.name)).map((f) => ({ name: f.name, size: f.size, mtimeMs: f.mtimeMs, ...side(f.name) }));
  const volumeSets: DropBundle[] = [...sets].map(([name, vs]) => ({
    name,
    size: vs.reduce((n, v) => n + v.size, 0),
    mtimeMs: Math.max(...vs.map((v) => v.mtimeMs)),
    ...side(name),
    volumes: [...vs].sort(byName),
    ...(names.has(name) ? { alsoFile: true } : {}),
  }));
  const bundles = [...singles, ...volumeSets].sort(byName);
  const orphanSidecars = files
    .map((f) => f.name)
    .filter((n) => n.endsWith('.sha256') && !n.startsWith('.') && isBundleName(n.slice(0, -'.sha256'.length)) && !names.has(n.slice(0, -'.sha256'.length)) && !sets.has(n.slice(0, -'.sha256'.length)))
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

/** What was found out about a volume set before deciding (see decideSet). */
export interface SetCheck {
  /** A file of the set's name is there too. */
  alsoFile?: boolean;
  /** The set checksum file's lines in order (volume file name, hex); undefined when there is none or it lists nothing. */
  lines: [string, string][] | undefined;
  /** The volumes there (by part), with size and modification time before the hash. */
  before: DropFile[];
  /** Each volume's sha256 hex by name, and the concatenation's; undefined when they were not hashed. */
  hashed?: { volumes: ReadonlyMap<string, string>; sha256: string; bytes: number };
  /** The volumes' size and modification time after the hash. */
  after?: DropFile[];
}

const list = (names: readonly string[]): string => (names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`);

/**
 * Why a set is waiting before its volumes are read (no need to hash them): a file of the same
 * name, no checksum file, or a volume it lists that is not there; undefined when it is ready to hash.
 */
export function setNotThere(name: string, c: Pick<SetCheck, 'alsoFile' | 'lines' | 'before'>): Decision | undefined {
  if (c.alsoFile) return { kind: 'waiting', why: `both the file ${name} and volumes ${name}.001... are here: remove the one that does not belong (the other is imported then)` };
  if (!c.lines?.length) return { kind: 'waiting', why: `its checksum file ${name}.sha256 is missing or incomplete` };
  if (!c.lines.some(([n]) => volumeName(n)?.base === name)) {
    return { kind: 'waiting', why: `its checksum file ${name}.sha256 lists no volume of it (it names ${list(c.lines.map(([n]) => n))}): it is another bundle's, or the set was renamed after it was written` };
  }
  const there = new Set(c.before.map((v) => v.name));
  const missing = c.lines.map(([n]) => n).filter((n) => !there.has(n));
  if (!missing.length) return undefined;
  const here = c.lines.length - missing.length;
  return { kind: 'waiting', why: `${list(missing)} ${missing.length === 1 ? 'is' : 'are'} missing (${name}.sha256 lists ${c.lines.length} volume${c.lines.length === 1 ? '' : 's'}, ${here} ${here === 1 ? 'is' : 'are'} here)` };
}

/**
 * Decides one volume set: waiting without its checksum file, while a volume it lists is not
 * there (naming them), or while a volume changes; not matching (a volume's hash, or a volume
 * the checksum file does not list): waiting within the settle time of the newest volume,
 * damaged after it. Then duplicate or import, by the concatenation's sha256.
 */
export function decideSet(name: string, c: SetCheck, imported: ReadonlyMap<string, JournalEntry>, now: number, settleMs: number): Decision {
  const early = setNotThere(name, c);
  if (early || !c.lines) return early ?? { kind: 'waiting', why: 'no checksum file' };
  const key = (vs: readonly DropFile[]) => vs.map((v) => `${v.name}:${v.size}:${v.mtimeMs}`).join('/');
  if (c.after && key(c.after) !== key(c.before)) return { kind: 'waiting', why: 'it is still being written (a volume\'s size or time changed while it was read)' };
  if (!c.hashed) return { kind: 'waiting', why: 'it could not be read yet' };
  const listed = new Set(c.lines.map(([n]) => n));
  const extra = c.before.map((v) => v.name).filter((n) => !listed.has(n));
  const bad = c.lines.filter(([n, hex]) => c.hashed!.volumes.get(n) !== hex).map(([n]) => n);
  if (extra.length || bad.length) {
    const newest = Math.max(...c.before.map((v) => v.mtimeMs));
    const what = [
      ...(bad.length ? [`${list(bad)} ${bad.length === 1 ? 'does' : 'do'} not match ${bad.length === 1 ? 'its line' : 'their lines'} in ${name}.sha256`] : []),
      ...(extra.length ? [`${list(extra)} ${extra.length === 1 ? 'is' : 'are'} not listed in ${name}.sha256 (${c.lines.length} volumes)`] : []),
    ].join('; ');
    if (now - newest < settleMs) return { kind: 'waiting', why: `${what} yet, and a volume was modified less than ${Math.round(settleMs / 1000)}s ago (still arriving?)` };
    return { kind: 'damaged', why: `it does not match its checksum file: ${what}; it was damaged or changed after it was written (copy ${bad.length ? 'those volumes' : 'the set'} again)` };
  }
  const entry = imported.get(c.hashed.sha256);
  if (entry) return { kind: 'duplicate', sha256: c.hashed.sha256, entry };
  return { kind: 'import', sha256: c.hashed.sha256 };
}

/** A set checksum file found in done/ or failed/, and the volumes beside it (file names). */
export interface MovedSet {
  dir: string;
  /** The set's name there (`NAME` or `NAME~N`). */
  name: string;
  /** Its lines (volume file name, hex), in order. */
  lines: [string, string][];
  volumes: readonly string[];
}

/**
 * Where an earlier run was moving a set when it was stopped, or undefined: a set in done/ or
 * failed/ whose checksum file lists the same volumes (same hashes, in order) and that holds
 * exactly the volumes missing from the drop directory (the move goes part by part, with the
 * checksum file written there first). `present` are the parts still in drop.
 */
export function unfinishedMove(lines: [string, string][], present: ReadonlySet<number>, moved: readonly MovedSet[]): MovedSet | undefined {
  const hexes = lines.map(([, h]) => h).join(',');
  return moved.find((m) => {
    if (m.lines.map(([, h]) => h).join(',') !== hexes) return false;
    const parts = new Set(m.volumes.map((v) => volumeName(v)?.part));
    return lines.every((_, i) => parts.has(i + 1) !== present.has(i + 1));
  });
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
