/**
 * The variants of verify and verify-huge: `ferry verify`, `ferry verify --deep`, and their
 * floor, Node's gunzip + sha256 over the same file in one pass (bench/floor-gunzip-sha256.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FLOOR_SCRIPT } from '../paths.js';
import { pick, ratio, type Medians, type Target, type Variant } from '../scenario.js';
import { ferryReport } from './common.js';

export interface VerifyData {
  bundle: string;
  bytes: number;
  what: string;
  fixtureInfo: Record<string, unknown>;
  ferry: string;
}

export const FLOOR = 'floor (gunzip+sha256)';

function ferryVerify(name: string, extra: string[]): Variant<VerifyData> {
  return {
    name,
    note: `ferry verify big.tar.gz ${extra.join(' ')}--json`,
    steps: ({ bundle, ferry }, dir) => [{ cmd: process.execPath, args: [ferry, 'verify', bundle, ...extra, '--json'], stdout: join(dir, 'report.json') }],
    async inspect(dir) {
      await ferryReport(join(dir, 'report.json'));
      return {};
    },
  };
}

export const verifyVariants: Variant<VerifyData>[] = [
  ferryVerify('ferry verify', []),
  ferryVerify('ferry verify --deep', ['--deep']),
  {
    name: FLOOR,
    note: 'node: createReadStream | createGunzip | sha256, the same file',
    steps: ({ bundle }, dir) => [{ cmd: process.execPath, args: [FLOOR_SCRIPT, bundle], stdout: join(dir, 'floor.json') }],
    async inspect(dir, _t, { bundle }) {
      const out = JSON.parse(await readFile(join(dir, 'floor.json'), 'utf8')) as { bytes: number };
      return { gunzippedBytes: out.bytes, fileBytes: (await stat(bundle)).size };
    },
  },
];

/** verify and verify --deep within 1.5x of the floor; peak RSS reported. */
export function verifyTargets(m: Record<string, Medians>): Target[] {
  const floor = pick(m, FLOOR);
  const v = pick(m, 'ferry verify');
  const deep = pick(m, 'ferry verify --deep');
  return [
    { what: 'ferry verify within 1.5x of the floor (issue 12)', value: ratio(v.seconds, floor.seconds), ok: v.seconds <= 1.5 * floor.seconds },
    { what: 'ferry verify --deep within 1.5x of the floor (issue 12)', value: ratio(deep.seconds, floor.seconds), ok: deep.seconds <= 1.5 * floor.seconds },
    { what: 'peak RSS, verify / --deep / floor', value: `${(v.rssKB / 1024).toFixed(0)} / ${(deep.rssKB / 1024).toFixed(0)} / ${(floor.rssKB / 1024).toFixed(0)} MB`, info: true },
    { what: 'CPU s, verify / --deep / floor', value: `${v.cpuSeconds.toFixed(2)} / ${deep.cpuSeconds.toFixed(2)} / ${floor.cpuSeconds.toFixed(2)}`, info: true },
  ];
}
