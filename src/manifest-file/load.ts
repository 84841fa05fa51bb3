/**
 * Loading a manifest file (YAML, or JSON which is YAML too): parse, validate the whole file
 * with zod, then check what zod cannot (references, duplicate images). Every problem is
 * reported at once as `file:line:column: field: message`, and nothing is downloaded before the
 * file is valid. Throws MANIFEST_FILE (exit 2).
 */
import { basename, dirname, extname, resolve } from 'node:path';
import { FerryError } from '../errors.js';
import { parsePlatformSelection, type PlatformSelection } from '../oci/platform.js';
import { formatReference, parseReference, type Reference } from '../reference/parse-reference.js';
import type { z } from 'zod';
import { manifestFileSchema, type ManifestFile } from './schema.js';
import { fileProblems, formatPath, readYamlFile, schemaProblems, type FileKind, type PathPart } from './yaml-file.js';
import { describeSelector, parseRange, type TagSelector } from './tag-select.js';

/** An entry that chooses tags of a repository (`tags:`), before the tags are known. */
export interface TagSelection {
  selector: TagSelector;
  limit?: number;
  /** `host/repo semver ">=1.26 <1.28"`: the selection in one line, kept in the lock file. */
  key: string;
}

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
  /**
   * Set on an entry with `tags:` (its `ref` has no tag until expandSelection gives it one), and
   * on each image expandSelection made from it.
   */
  selection?: TagSelection;
}

/**
 * The images a tag selection stands for: one per tag, as if each were listed by hand with the
 * entry's platforms and referrers. `image` must carry a selection.
 */
export function expandSelection(image: ManifestImage, tags: readonly string[]): ManifestImage[] {
  return tags.map((tag) => ({ ...image, ref: { ...image.ref, tag, digest: undefined }, request: `${image.request}:${tag}` }));
}

export interface LoadedManifest {
  path: string;
  bundle: string;
  images: ManifestImage[];
  insecure: string[];
  caFiles: Record<string, string>;
}


const MANIFEST_FILE: FileKind = {
  name: 'manifest file',
  hint: 'fix the lines named above; docs/manifest-file.md describes the format, docs/manifest-file.schema.json lets editors check it',
};

const fail = (file: string, problems: string[]): FerryError => fileProblems(file, MANIFEST_FILE, problems);

/** Reads and validates a manifest file. Throws MANIFEST_FILE listing every problem with its line. */
export async function loadManifestFile(file: string): Promise<LoadedManifest> {
  const y = await readYamlFile(file, MANIFEST_FILE);
  const at = y.at;
  const raw = y.value;
  const parsed = manifestFileSchema.safeParse(raw);
  const problems: string[] = [];
  if (!parsed.success) {
    problems.push(
      ...schemaProblems(y, parsed.error.issues.flatMap((x) => unionBranch(x, [])), (path) =>
        path[path.length - 1] === 'tags'
          ? 'expected a list of tags, all, { regex: ... }, { semver: ... } or { latest: N }'
          : 'expected an image reference string or a map with ref, name, platforms and tags',
      ),
    );
  }
  // References and duplicates are checked even when the schema failed, so one run lists everything.
  const m = (parsed.success ? parsed.data : raw) as ManifestFile;
  const loaded = interpretManifest(file, m, at, problems);
  if (problems.length) throw fail(file, problems);
  return loaded;
}

type Issue = z.core.$ZodIssue;

/**
 * A union's issues from the one branch that matched the input's shape (every issue of it lies
 * below the input), so `tags: { latest: 0 }` is reported at images[0].tags.latest rather than
 * as "images[0] is neither a string nor a map"; the union issue itself when no branch did.
 */
function unionBranch(issue: Issue, prefix: readonly PropertyKey[]): Issue[] {
  const here = { ...issue, path: [...prefix, ...issue.path] } as Issue;
  if (issue.code !== 'invalid_union') return [here];
  const branch = issue.errors.find((alt) => alt.length > 0 && alt.every((x) => x.path.length > 0));
  return branch ? branch.flatMap((x) => unionBranch(x, here.path)) : [here];
}

/** What is wrong with an entry's `tags` and `limit` beyond their types, or undefined. */
function selectionProblem(e: { ref: string; name?: string; tags?: unknown; limit?: unknown }): string | undefined {
  if (e.tags === undefined) return 'limit needs tags (e.g. tags: all, or tags: { latest: 5 })';
  if (e.ref.includes('@') || e.ref.slice(e.ref.lastIndexOf('/') + 1).includes(':')) return `"${e.ref}" names a tag or digest; with tags, ref is the repository alone`;
  if (e.name !== undefined) return 'name cannot be combined with tags (each tag keeps its own name)';
  const t = e.tags as { regex?: unknown; semver?: unknown };
  if (typeof t === 'object' && t !== null && typeof t.regex === 'string') {
    try {
      new RegExp(t.regex);
    } catch (err) {
      return `invalid regular expression: ${(err as Error).message}`;
    }
  }
  if (typeof t === 'object' && t !== null && typeof t.semver === 'string') {
    try {
      parseRange(t.semver);
    } catch (err) {
      return `invalid semver range: ${(err as Error).message}`;
    }
  }
  return undefined;
}

function interpretManifest(file: string, m: ManifestFile, at: (p: readonly PathPart[]) => string, problems: string[]): LoadedManifest {
  const images: ManifestImage[] = [];
  const seen = new Map<string, number>();
  const defaults = Array.isArray(m?.platforms) ? m.platforms : ['linux/amd64'];
  const entries: unknown[] = Array.isArray(m?.images) ? m.images : [];
  entries.forEach((entry, i) => {
    if (typeof entry !== 'string' && (typeof entry !== 'object' || entry === null || typeof (entry as { ref?: unknown }).ref !== 'string')) return;
    const e = (typeof entry === 'string' ? { ref: entry } : entry) as { ref: string; name?: string; platforms?: string[]; referrers?: unknown; tags?: unknown; limit?: unknown };
    const refPath: PathPart[] = typeof entry === 'string' ? ['images', i] : ['images', i, 'ref'];
    let ref: Reference;
    try {
      ref = parseReference(e.ref);
    } catch (err) {
      problems.push(`${at(refPath)}: ${formatPath(refPath)}: ${(err as Error).message}`);
      return;
    }
    let selection: TagSelection | undefined;
    if (e.tags !== undefined || e.limit !== undefined) {
      const why = selectionProblem(e);
      if (why) {
        const key = e.tags === undefined ? 'limit' : ref.digest || e.ref.slice(e.ref.lastIndexOf('/') + 1).includes(':') ? 'ref' : e.name !== undefined ? 'name' : 'tags';
        problems.push(`${at(['images', i, key])}: images[${i}].${key}: ${why}`);
        return;
      }
      const selector = e.tags as TagSelector;
      const limit = typeof e.limit === 'number' ? e.limit : undefined;
      selection = { selector, ...(limit !== undefined ? { limit } : {}), key: `${ref.registry}/${ref.repository} ${describeSelector(selector, limit)}` };
      ref = { ...ref, tag: undefined };
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
    const key = selection ? selection.key : formatReference(name ?? ref);
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
    images.push({ request: e.ref, ref, ...(name ? { name } : {}), platforms, platformStrings, origin: at(refPath), ...(referrers === false ? { referrers: false } : {}), ...(selection ? { selection } : {}) });
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
