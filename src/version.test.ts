import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildInfo, TOOL, VERSION } from './version.js';

describe('buildInfo (not a release)', () => {
  it("is package.json's version, this Node, a checkout's commit, release false", () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const info = buildInfo();
    expect(VERSION).toBe(pkg.version);
    expect(TOOL).toBe(`ferry ${pkg.version}`);
    expect(info).toMatchObject({ version: pkg.version, node: process.version, platform: `${process.platform}-${process.arch}`, release: false, build: 'checkout' });
    expect(info.commit === null || /^[0-9a-f]{40}(-dirty)?$/.test(info.commit)).toBe(true);
  });
});
