/**
 * Loading a manifest file (YAML, or JSON which is YAML too): parse, validate the whole file
 * with zod, then check what zod cannot (references, duplicate images). Every problem is
 * reported at once as `file:line:column: field: message`, and nothing is downloaded before the
 * file is valid. Throws MANIFEST_FILE (exit 2).
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isScalar, type Node, type Document } from 'yaml';
import { FerryError, describe } from '../errors.js';
import { parsePlatformSelection, type PlatformSelection } from '../oci/platform.js';
import { formatReference, parseReference, type Reference } from '../reference/parse-reference.js';
import { manifestFileSchema, type ManifestFile } from './schema.js';

export interface ManifestImage {
  request: string;
  ref: Reference;
  name?: Reference;
  platforms: PlatformSelection;
  platformStrings: string[];
  /** file:line for messages. */
  origin: string;
  /** false: leave signatures, attestations and SBOMs behind (`referrers: false`). */
  referrers?: false;
}

export interface LoadedManifest {
  path: string;
  bundle: string;
  images: ManifestImage[];
  insecure: string[];
  caFiles: Record<string, string>;
}

export type PathPart = string | number;

export function formatPath(path: readonly PathPart[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}

/**
 * The source position of the node at `path`, or of its nearest ancestor. With `atKey`, the
 * position of the last path element's key (for unknown keys).
 */
export function position(doc: Document, lc: LineCounter, path: readonly PathPart[], atKey = false): { line: number; col: number } {
  const nodeAt = (p: readonly PathPart[]): Node | undefined => (p.length === 0 ? (doc.contents as Node | null) ?? undefined : (doc.getIn(p, true) as Node | undefined));
  const pos = (offset: number): { line: number; col: number } => {
    const p = lc.linePos(offset);
    return { line: p.line, col: p.col };
  };
  if (atKey && path.length > 0) {
    const parent = nodeAt(path.slice(0, -1));
    if (isMap(parent)) {
      const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === path[path.length - 1]);
      const key = pair?.key as Node | undefined;
      if (key?.range) return pos(key.range[0]);
    }
  }
  for (let n = path.length; n >= 0; n--) {
    const node = nodeAt(path.slice(0, n));
    if (node?.range) return pos(node.range[0]);
  }
  return { line: 1, col: 1 };
}

function fail(file: string, problems: string[]): FerryError {
  return new FerryError('MANIFEST_FILE', `${file} is not a valid manifest file:\n  ${problems.join('\n  ')}`, {
    hint: 'fix the lines named above; docs/manifest-file.md describes the format, docs/manifest-file.schema.json lets editors check it',
  });
}

/** Reads and validates a manifest file. Throws MANIFEST_FILE listing every problem with its line. */
export async function loadManifestFile(file: string): Promise<LoadedManifest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FerryError('MANIFEST_FILE', `reading manifest file ${file}: ${describe(err)}`, { hint: 'name an existing YAML or JSON manifest file' });
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw fail(file, doc.errors.map((e) => {
      const p = e.pos ? lc.linePos(e.pos[0]) : { line: 1, col: 1 };
      return `${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`;
    }));
  }
  const at = (path: readonly PathPart[], atKey = false): string => {
    const p = position(doc, lc, path, atKey);
    return `${file}:${p.line}:${p.col}`;
  };
  const raw = doc.toJS() as unknown;
  const parsed = manifestFileSchema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      let path = i.path as PathPart[];
      let msg = i.message;
      const unknownKey = i.code === 'unrecognized_keys';
      if (unknownKey) {
        path = [...path, i.keys[0]!];
        msg = `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (a typo?)`;
      }
      if (i.code === 'invalid_union') msg = 'expected an image reference string or a map with ref, name and platforms';
      problems.push(`${at(path, unknownKey)}: ${formatPath(path) || '(top level)'}: ${msg}`);
    }
  }
  // References and duplicates are checked even when the schema failed, so one run lists everything.
  const m = (parsed.success ? parsed.data : raw) as ManifestFile;
  const loaded = interpretManifest(file, m, at, problems);
  if (problems.length) throw fail(file, problems);
  return loaded;
}

function interpretManifest(file: string, m: ManifestFile, at: (p: readonly PathPart[]) => string, problems: string[]): LoadedManifest {
  const images: ManifestImage[] = [];
  const seen = new Map<string, number>();
  const defaults = Array.isArray(m?.platforms) ? m.platforms : ['linux/amd64'];
  const entries: unknown[] = Array.isArray(m?.images) ? m.images : [];
  entries.forEach((entry, i) => {
    if (typeof entry !== 'string' && (typeof entry !== 'object' || entry === null || typeof (entry as { ref?: unknown }).ref !== 'string')) return;
    const e = (typeof entry === 'string' ? { ref: entry } : entry) as { ref: string; name?: string; platforms?: string[]; referrers?: unknown };
    const refPath: PathPart[] = typeof entry === 'string' ? ['images', i] : ['images', i, 'ref'];
    let ref: Reference;
    try {
      ref = parseReference(e.ref);
    } catch (err) {
      problems.push(`${at(refPath)}: ${formatPath(refPath)}: ${(err as Error).message}`);
      return;
    }
    let name: Reference | undefined;
    if (e.name) {
      try {
        name = parseReference(e.name);
        if (name.digest || !name.tag) throw new Error(`"${e.name}" must be a name with a tag, without a digest`);
      } catch (err) {
        problems.push(`${at(['images', i, 'name'])}: images[${i}].name: ${(err as Error).message}`);
        return;
      }
    }
    const key = formatReference(name ?? ref);
    const dup = seen.get(key);
    if (dup !== undefined) {
      problems.push(`${at(refPath)}: ${formatPath(refPath)}: ${key} is listed twice (first at images[${dup}])`);
      return;
    }
    seen.set(key, i);
    const platformStrings = Array.isArray(e.platforms) ? e.platforms : defaults;
    let platforms: PlatformSelection;
    try {
      // Nothing asked for (neither here nor at the top): the default, which a single-platform image may differ from.
      const asked = Array.isArray(e.platforms) || Array.isArray(m?.platforms);
      platforms = parsePlatformSelection(asked ? platformStrings : []);
    } catch {
      return; // reported by the schema
    }
    const referrers = (typeof e.referrers === 'boolean' ? e.referrers : undefined) ?? m?.referrers;
    images.push({ request: e.ref, ref, ...(name ? { name } : {}), platforms, platformStrings, origin: at(refPath), ...(referrers === false ? { referrers: false } : {}) });
  });
  if (problems.length) return { path: file, bundle: '', images, insecure: [], caFiles: {} };
  const dir = dirname(resolve(file));
  const insecure: string[] = [];
  const caFiles: Record<string, string> = {};
  for (const [host, s] of Object.entries(m.registries ?? {}) as [string, { insecure?: boolean; 'ca-file'?: string }][]) {
    if (s.insecure) insecure.push(host);
    if (s['ca-file']) caFiles[host] = resolve(dir, s['ca-file']);
  }
  const bundle = m.bundle ?? basename(file, extname(file));
  return { path: file, bundle, images, insecure, caFiles };
}
