/**
 * The import journal, `imports.jsonl`: one JSON line per imported bundle (bundle name, sha256,
 * target, images with their target digests, time). It is what makes a re-delivered identical
 * bundle a no-op. Every entry is one append of one line, fsync'd before the bundle is moved,
 * so after a crash the journal holds every bundle that was fully imported; a line cut short by
 * a crash mid-write is skipped when reading (and its bundle, still in the drop directory, is
 * imported again: pushes and loads of present content are no-ops).
 */
import { open, readFile } from 'node:fs/promises';
import { ioError } from '../fs/io-error.js';

export interface JournalImage {
  /** The image's name in the bundle (or reference). */
  source: string;
  /** Where it went: host/repo:tag@digest, or the engine's tag. */
  target: string;
  /** The digest in the target: manifest or index digest in a registry, the image ID in an engine. */
  digest: string;
}

export interface JournalEntry {
  bundle: string;
  /** The bundle's sha256 hex; a volume set's is that of its volumes' concatenation (`cat NAME.0* | sha256sum`). */
  sha256: string;
  /** Bytes (a set's: all its volumes). */
  bytes: number;
  /** A volume set: how many volumes it had. */
  volumes?: number;
  /** The registry (HOST[:PORT][/PREFIX]) or the engine (DOCKER_HOST) the images went to. */
  target: string;
  images: JournalImage[];
  /** ISO 8601. */
  time: string;
}

const isEntry = (x: unknown): x is JournalEntry => {
  const e = x as Partial<JournalEntry> | null;
  return !!e && typeof e === 'object' && typeof e.sha256 === 'string' && /^[a-f0-9]{64}$/.test(e.sha256) && typeof e.bundle === 'string';
};

/** Parses journal text: entries by sha256 (the last one wins); lines that are not entries are skipped. */
export function parseJournal(text: string): Map<string, JournalEntry> {
  const byHash = new Map<string, JournalEntry>();
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as unknown;
      if (isEntry(e)) byHash.set(e.sha256, e);
    } catch {
      // a line cut short by a crash: its bundle was not moved, so it is imported again
    }
  }
  return byHash;
}

/** Reads the journal at `path` (a missing file is an empty journal). Throws an IO FerryError otherwise. */
export async function readJournal(path: string): Promise<Map<string, JournalEntry>> {
  try {
    return parseJournal(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw ioError('reading the import journal', path, err);
  }
}

/**
 * Appends one entry as one line and fsyncs the file. A journal whose last line was cut short
 * gets a newline first, so the new entry stands on its own line. Throws an IO FerryError.
 */
export async function appendJournal(path: string, entry: JournalEntry): Promise<void> {
  try {
    const fh = await open(path, 'a+');
    try {
      const { size } = await fh.stat();
      let lead = '';
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) lead = '\n';
      }
      await fh.appendFile(`${lead}${JSON.stringify(entry)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw ioError('appending to the import journal', path, err, 'check free space and permissions there');
  }
}
