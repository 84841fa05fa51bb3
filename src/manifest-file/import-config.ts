/**
 * The import config file (docs/import.md): where bundles arrive, where they go after the
 * import, and where their images go. zod validates it and generates the JSON Schema in
 * docs/import-config.schema.json (`npm run schema`). Unknown keys are errors. Relative paths
 * are relative to the config file's directory.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { FerryError, describe } from '../errors.js';
import { formatPath, position, type PathPart } from './load.js';

const duration = z.string().regex(/^\d+[smhdw]$/, 'expected a duration: a number and a unit, e.g. 45s, 90m, 12h, 30d, 2w');
const dir = (what: string) => z.string().min(1).describe(what);

export const importConfigSchema = z
  .object({
    drop: dir('the directory bundles arrive in (with their .sha256 checksum files)'),
    done: dir('where imported bundles and their checksum files are moved'),
    failed: dir('where rejected bundles go, each with <name>.reason.txt beside it'),
    journal: z.string().min(1).optional().describe('the journal of imported bundles (default <done>/imports.jsonl)'),
    target: z
      .union([
        z
          .object({
            registry: z.string().min(1).describe('target registry HOST[:PORT][/PREFIX], as `ferry push --to`'),
            'keep-registry-host': z.boolean().optional().describe('put the source registry host in the target path, as `ferry push --keep-registry-host`'),
          })
          .strict(),
        z.object({ docker: z.string().min(1).describe('the Docker engine to load into: unix:///path/to/docker.sock or tcp://host:port') }).strict(),
      ])
      .describe('where the images go: a registry (push) or a Docker engine (load)'),
    policy: z.string().min(1).optional().describe('the signature policy file (docs/policy.md), relative to this file: every image of a bundle is judged before it is pushed or loaded'),
    keep: duration.optional().describe('prune imported bundles in done/ older than this (e.g. 30d); default: keep them'),
    settle: duration.optional().describe('a bundle that does not match its checksum file is judged damaged only once it has not changed for this long (default 60s)'),
  })
  .strict();

export type ImportConfigFile = z.infer<typeof importConfigSchema>;

export type ImportTarget = { kind: 'registry'; to: string; keepRegistryHost: boolean } | { kind: 'docker'; host: string };

/** A loaded config: paths resolved against the config's directory. */
export interface ImportConfig {
  path: string;
  drop: string;
  done: string;
  failed: string;
  journal: string;
  target: ImportTarget;
  policy?: string;
  keep?: string;
  settle?: string;
}

/** The JSON Schema of the import config file. */
export function importConfigJsonSchema(): unknown {
  return { $id: 'https://ferry.invalid/import-config.schema.json', title: 'ferry import config file', ...(z.toJSONSchema(importConfigSchema) as object) };
}

function fail(file: string, problems: string[]): FerryError {
  return new FerryError('MANIFEST_FILE', `${file} is not a valid import config file:\n  ${problems.join('\n  ')}`, {
    hint: 'fix the lines named above; docs/import.md describes the format, docs/import-config.schema.json lets editors check it',
  });
}

/** Reads and validates an import config file. Throws MANIFEST_FILE (exit 2) listing every problem with its line. */
export async function loadImportConfig(file: string): Promise<ImportConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FerryError('MANIFEST_FILE', `reading import config file ${file}: ${describe(err)}`, { hint: 'name an existing YAML or JSON import config file' });
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw fail(file, doc.errors.map((e) => {
      const p = e.pos ? lc.linePos(e.pos[0]) : { line: 1, col: 1 };
      return `${file}:${p.line}:${p.col}: ${e.message.split('\n')[0]}`;
    }));
  }
  const parsed = importConfigSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    throw fail(file, parsed.error.issues.map((i) => {
      let path = i.path as PathPart[];
      let msg = i.message;
      const unknownKey = i.code === 'unrecognized_keys';
      if (unknownKey) {
        path = [...path, i.keys[0]!];
        msg = `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')} (a typo?)`;
      }
      if (i.code === 'invalid_union') msg = 'expected `registry: HOST[:PORT][/PREFIX]` (and optionally keep-registry-host) or `docker: unix:///path/to/docker.sock`';
      const p = position(doc, lc, path, unknownKey);
      return `${file}:${p.line}:${p.col}: ${formatPath(path) || '(top level)'}: ${msg}`;
    }));
  }
  const c = parsed.data;
  const base = dirname(resolve(file));
  const at = (p: string): string => resolve(base, p);
  const done = at(c.done);
  return {
    path: file,
    drop: at(c.drop),
    done,
    failed: at(c.failed),
    journal: c.journal ? at(c.journal) : resolve(done, 'imports.jsonl'),
    target: 'registry' in c.target ? { kind: 'registry', to: c.target.registry, keepRegistryHost: c.target['keep-registry-host'] ?? false } : { kind: 'docker', host: c.target.docker },
    ...(c.policy ? { policy: at(c.policy) } : {}),
    ...(c.keep ? { keep: c.keep } : {}),
    ...(c.settle ? { settle: c.settle } : {}),
  };
}
