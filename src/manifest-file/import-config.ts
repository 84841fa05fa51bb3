/**
 * The import config file (docs/import.md): where bundles arrive, where they go after the
 * import, and where their images go. zod validates it and generates the JSON Schema in
 * docs/import-config.schema.json (`npm run schema`). Unknown keys are errors. Relative paths
 * are relative to the config file's directory.
 */
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { fileProblems, readYamlFile, schemaProblems, type FileKind } from './yaml-file.js';

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

const IMPORT_CONFIG: FileKind = {
  name: 'import config file',
  hint: 'fix the lines named above; docs/import.md describes the format, docs/import-config.schema.json lets editors check it',
};

/** Reads and validates an import config file. Throws MANIFEST_FILE (exit 2) listing every problem with its line. */
export async function loadImportConfig(file: string): Promise<ImportConfig> {
  const y = await readYamlFile(file, IMPORT_CONFIG);
  const parsed = importConfigSchema.safeParse(y.value);
  if (!parsed.success) {
    throw fileProblems(file, IMPORT_CONFIG, schemaProblems(y, parsed.error.issues, () => 'expected `registry: HOST[:PORT][/PREFIX]` (and optionally keep-registry-host) or `docker: unix:///path/to/docker.sock`'));
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
