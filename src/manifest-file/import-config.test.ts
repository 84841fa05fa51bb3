import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importConfigJsonSchema, loadImportConfig } from './import-config.js';

const write = (text: string): string => {
  const p = join(mkdtempSync(join(tmpdir(), 'import-config-')), 'import.yaml');
  writeFileSync(p, text);
  return p;
};

describe('import config file', () => {
  it('docs/import-config.schema.json is generated from the zod schema (run `npm run schema` after changing it)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../docs/import-config.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(importConfigJsonSchema())));
  });

  it('resolves paths against the file, the journal into done/ by default', async () => {
    const p = write('drop: drop\ndone: /srv/done\nfailed: ./failed\ntarget:\n  registry: registry.internal:5000/mirror\nkeep: 30d\n');
    const dir = join(p, '..');
    expect(await loadImportConfig(p)).toEqual({
      path: p, drop: join(dir, 'drop'), done: '/srv/done', failed: join(dir, 'failed'), journal: '/srv/done/imports.jsonl',
      target: { kind: 'registry', to: 'registry.internal:5000/mirror', keepRegistryHost: false }, keep: '30d',
    });
  });

  it('a docker target', async () => {
    const c = await loadImportConfig(write('drop: d\ndone: o\nfailed: f\ntarget: { docker: "unix:///run/docker.sock" }\n'));
    expect(c.target).toEqual({ kind: 'docker', host: 'unix:///run/docker.sock' });
  });

  it('lists every problem with its line: unknown keys, a bad duration, a target with both or neither', async () => {
    const p = write('drop: d\ndone: o\nfailed: f\ntarget:\n  registry: r:5000\n  docker: unix:///x\nkeep: a month\nretention: 3\n');
    await expect(loadImportConfig(p)).rejects.toMatchObject({
      code: 'MANIFEST_FILE',
      message: `${p} is not a valid import config file:\n  ${p}:5:3: target: expected \`registry: HOST[:PORT][/PREFIX]\` (and optionally keep-registry-host) or \`docker: unix:///path/to/docker.sock\`\n  ${p}:7:7: keep: expected a duration: a number and a unit, e.g. 45s, 90m, 12h, 30d, 2w\n  ${p}:8:1: retention: unknown key "retention" (a typo?)`,
    });
  });
});
