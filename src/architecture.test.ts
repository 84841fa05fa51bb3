/**
 * The architecture, as a test: which folder of src/ may import which. Every import of every
 * non-test file under src/ is read with the TypeScript scanner (static, `import type`,
 * `export ... from` and dynamic `import()`), resolved to its file, and checked against LAYERS.
 * An import the table forbids fails the test unless ALLOWED lists it with a reason; an ALLOWED
 * entry that no longer occurs fails too, so the list only shrinks.
 *
 * The layers, lowest first: the foundation (errors, version, util, process), value types
 * (digest, reference, fs), oci (media types, manifests, configs), then the places where images
 * live, which are peers and never import one another (registry, store, bundle, docker-engine,
 * and the YAML manifest-file), then transfer (the copy engine), then the CLI, which may import
 * anything and which nothing else imports.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

const FOUNDATION = ['errors', 'version', 'util', 'process'] as const;
const VALUES = [...FOUNDATION, 'digest', 'reference', 'fs'] as const;
const BELOW_PLACES = [...VALUES, 'oci'] as const;

/** Layer -> the layers its files may import (a layer may always import itself). */
const LAYERS: Record<string, readonly string[]> = {
  errors: [],
  version: [],
  util: ['errors'],
  process: ['errors', 'util'],
  digest: ['errors', 'util'],
  reference: ['errors', 'util', 'digest'],
  fs: ['errors', 'util', 'process'],
  oci: ['errors', 'util', 'digest', 'reference'],
  // The content graph (ImagePlan) and the two interfaces every place implements (ImageSource,
  // ImageSink): the hub the places and the engine share.
  content: BELOW_PLACES,
  // The places where images live: each only converts between its storage and the images.
  registry: [...BELOW_PLACES, 'content'],
  store: [...BELOW_PLACES, 'content'],
  bundle: [...BELOW_PLACES, 'content'],
  'oci-layout': [...BELOW_PLACES, 'content'],
  'docker-engine': [...BELOW_PLACES, 'content'],
  'manifest-file': [...BELOW_PLACES, 'content'],
  // Signature policies: judge images (content) by the evidence the places hand them.
  policy: [...BELOW_PLACES, 'content'],
  // The copy engine (copy.ts, blob-content.ts: it knows only the content interfaces) and its
  // compositions, which pick the places: pull (registries -> cache), push (bundle -> registry).
  transfer: [...BELOW_PLACES, 'content', 'registry', 'store'],
  // The import job's own decisions and files (which bundles of a drop directory are complete,
  // waiting or already imported; the journal; moves): file-system work over value types only.
  import: VALUES,
  // `ferry serve`: the distribution API over a small content interface; its first content is
  // the blob cache filled from bundles (store, and bundle for legacy archives' manifests).
  serve: [...BELOW_PLACES, 'content', 'store', 'bundle'],
  cli: [...BELOW_PLACES, 'content', 'registry', 'store', 'bundle', 'oci-layout', 'docker-engine', 'manifest-file', 'policy', 'transfer', 'import', 'serve'],
  // bin/ferry's launcher: runs the bundled CLI (dist/cli.cjs) with a code cache; Node's builtins only.
  launch: [],
  // The library face (src/index.ts): what the CLI is thin over, for other programs; never the CLI.
  index: [...BELOW_PLACES, 'content', 'registry', 'store', 'bundle', 'oci-layout', 'docker-engine', 'manifest-file', 'policy', 'transfer'],
};

/** npm packages that mark a layer: only these layers may import them. */
const PACKAGES: Record<string, readonly string[]> = {
  undici: ['registry', 'docker-engine'], // HTTP is the registry client's and the engine client's
  'tar-stream': ['bundle'], // tar is the bundle's format
  yargs: ['cli'],
};

/**
 * Imports that break LAYERS today, each with why it is there. Remove an entry when the import
 * goes; do not add one without saying in the reason when it goes away.
 */
const ALLOWED: ReadonlyArray<{ from: string; to: string; why: string }> = [
  // Places that read or write the blob cache themselves instead of being handed streams by the engine.
  { from: 'bundle/writer.ts', to: 'store/blob-store.ts', why: 'the bundle writer reads blobs from the cache itself; the engine should stream them to a bundle sink' },
  { from: 'bundle/synthesize.ts', to: 'store/blob-store.ts', why: 'synthesizing manifests for legacy archives reads and writes cache blobs' },
  { from: 'bundle/bundle-time.ts', to: 'store/blob-store.ts', why: 'the bundle time is read from configs in the cache' },
  // Transport-neutral helpers kept in registry/.
  { from: 'store/blob-store.ts', to: 'registry/retry.ts', why: 'the retry policy (backoff, retryable errors) lives in registry/retry.ts; it is transport-neutral and belongs in util/' },
  { from: 'store/lock.ts', to: 'registry/retry.ts', why: 'sleep() lives in registry/retry.ts; it belongs in util/' },
  // The cross-process file lock lives in store/; it is a file-system tool and belongs in fs/ (with sleep in util/).
  { from: 'oci-layout/sink.ts', to: 'store/lock.ts', why: 'the OCI layout is locked with the file lock that lives in store/lock.ts; it belongs in fs/' },
];

interface Import {
  /** Importing file, relative to src/ with forward slashes. */
  from: string;
  /** The imported file relative to src/ (for relative imports), or the package name. */
  to: string;
  relative: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.fixture.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const toPosix = (p: string): string => p.split(sep).join('/');

function importsOf(file: string): Import[] {
  const from = toPosix(relative(SRC, file));
  return ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles.map(({ fileName }) => {
    if (!fileName.startsWith('.')) {
      const parts = fileName.split('/');
      return { from, to: fileName.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!, relative: false };
    }
    const to = posix.normalize(posix.join(posix.dirname(from), fileName)).replace(/\.js$/, '.ts');
    return { from, to, relative: true };
  });
}

/** The layer of a file relative to src/: its top folder, or the file's name for src/x.ts. */
function layerOf(path: string): string {
  const [top, ...rest] = path.split('/');
  return rest.length ? top! : top!.replace(/\.ts$/, '');
}

const files = sourceFiles(SRC);
const imports = files.flatMap(importsOf);

describe('architecture', () => {
  it('reads the imports of every source file', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(imports.filter((i) => i.relative).length).toBeGreaterThan(200);
    expect(imports).toContainEqual({ from: 'cli/main.ts', to: 'errors.ts', relative: true });
  });

  it('every file belongs to a layer of the table', () => {
    const unknown = [...new Set(files.map((f) => layerOf(toPosix(relative(SRC, f)))))].filter((l) => !(l in LAYERS));
    expect(unknown, 'add the new folder to LAYERS with the layers it may import').toEqual([]);
  });

  it('every relative import resolves to a source file under src/', () => {
    const known = new Set(files.map((f) => toPosix(relative(SRC, f))));
    const broken = imports.filter((i) => i.relative && !known.has(i.to)).map((i) => `${i.from} -> ${i.to}`);
    expect(broken).toEqual([]);
  });

  it('no layer imports a higher one (nothing imports cli/; registry/ does not import store/, bundle/ or transfer/; ...)', () => {
    const allowed = new Set(ALLOWED.map((a) => `${a.from} -> ${a.to}`));
    const bad = imports
      .filter((i) => i.relative)
      .filter((i) => {
        const a = layerOf(i.from);
        const b = layerOf(i.to);
        return a !== b && !LAYERS[a]?.includes(b) && !allowed.has(`${i.from} -> ${i.to}`);
      })
      .map((i) => `${i.from} -> ${i.to} (${layerOf(i.from)}/ may import only ${LAYERS[layerOf(i.from)]?.join(', ') || 'nothing'})`);
    expect([...new Set(bad)]).toEqual([]);
  });

  it('every allow-listed violation still occurs (remove the entry once the import is gone)', () => {
    const seen = new Set(imports.map((i) => `${i.from} -> ${i.to}`));
    const stale = ALLOWED.map((a) => `${a.from} -> ${a.to}`).filter((k) => !seen.has(k));
    expect(stale).toEqual([]);
    for (const a of ALLOWED) expect(LAYERS[layerOf(a.from)], `${a.from} -> ${a.to} is allowed by LAYERS already`).not.toContain(layerOf(a.to));
  });

  it('network, tar and argv packages stay in their layers (undici, tar-stream, yargs)', () => {
    const bad = imports
      .filter((i) => !i.relative && i.to in PACKAGES && !PACKAGES[i.to]!.includes(layerOf(i.from)))
      .map((i) => `${i.from} imports ${i.to}, which only ${PACKAGES[i.to]!.join(', ')} may use`);
    expect(bad).toEqual([]);
  });
});
