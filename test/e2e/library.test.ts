/**
 * The library face as a program outside the CLI imports it: `import ... from 'ferry'` (the
 * package's exports, resolved to the built dist/index.js, with its type declarations beside it).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOk } from './helpers/processes.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('ferry as a library', () => {
  it("`import { copyImages } from 'ferry'` loads the built library, with its declarations", async () => {
    const script = "import('ferry').then((m) => console.log(['copyImages', 'resolveImage', 'RegistryImageSink', 'OciLayoutSink', 'BundleSink'].map((n) => `${n}:${typeof m[n]}`).join(' ')))";
    const stdout = await runOk(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT });
    expect(stdout.trim()).toBe('copyImages:function resolveImage:function RegistryImageSink:function OciLayoutSink:function BundleSink:function');
    expect(existsSync(join(ROOT, 'dist', 'index.d.ts'))).toBe(true);
  });
});
