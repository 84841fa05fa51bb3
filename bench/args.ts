/** The bench's command line: `npm run bench -- [options]`. */
import { resolve } from 'node:path';
import { die } from './log.js';

export type Size = 'full' | 'small' | 'huge';

export interface Options {
  /** Fixture size: small (~1/10, a smoke run), full (default) or huge (full, plus the > 8 GiB verify). */
  size: Size;
  /** The fixture the load scenario uses (default: --size, huge meaning full). */
  loadSize: 'full' | 'small';
  runs: number;
  extraRounds: number;
  /** Chosen scenario names (empty: all that the size enables). */
  scenarios: string[];
  /** GiB of file data in the huge layer (default 8.5). */
  hugeGiB: number;
  ferry: string | undefined;
  keep: boolean;
  list: boolean;
}

export const USAGE = `usage: npm run bench -- [options]     (or: node bench/.build/bench/run.js [options], after tsc -p bench)

  --size full|small|huge  fixture size: full ~1 GB uncompressed / ~370 MB gzip (default); small
                      ~1/10 of every fixture (a smoke run of the bench itself); huge = full plus
                      the verify-huge scenario (one layer > 8 GiB; needs ~30 GB of disk)
  --runs N            timed runs per tool (default 3; the median is reported)
  --only A,B,...      run only these scenarios (default: all); see --list
  --scenario NAME     the same, one at a time (repeatable)
  --extra-rounds N    when a tool's runs spread more than 1.3x (max/min) and 0.15 s, run up to
                      N more interleaved rounds of that scenario (default 1; 0 turns it off)
  --load-size full|small  the fixture the load scenario uses (default: --size); small when vfs
                      makes a full load take over a minute
  --huge-gib N        GiB of data in verify-huge's single layer (default 8.5)
  --list              list the scenarios and exit
  --ferry PATH        the ferry to run (default bin/ferry of this checkout), e.g. to compare builds
  --keep              keep the temp dirs (registry storage, outputs, logs) for inspection
  -h, --help          this text
`;

/** Parses argv; exits (via BenchExit, code 2) on a bad option; `help` is returned as null. */
export function parseArgs(argv: readonly string[]): Options | null {
  const o: Options = { size: 'full', loadSize: 'full', runs: 3, extraRounds: 1, scenarios: [], hugeGiB: 8.5, ferry: undefined, keep: false, list: false };
  let loadSize: string | undefined;
  let size = 'full';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const eq = a.indexOf('=');
      if (eq > 0) return a.slice(eq + 1);
      if (i + 1 >= argv.length) die(`${a} needs a value\n\n${USAGE}`, 2);
      return argv[++i]!;
    };
    const name = a.split('=')[0];
    if (name === '--size') size = val();
    else if (name === '--runs') o.runs = Number(val());
    else if (name === '--scenario') o.scenarios.push(val());
    else if (name === '--only') o.scenarios.push(...val().split(',').map((x) => x.trim()).filter(Boolean));
    else if (name === '--extra-rounds') o.extraRounds = Number(val());
    else if (name === '--load-size') loadSize = val();
    else if (name === '--huge-gib') o.hugeGiB = Number(val());
    else if (name === '--ferry') o.ferry = resolve(val());
    else if (a === '--keep') o.keep = true;
    else if (a === '--list') o.list = true;
    else if (a === '-h' || a === '--help') return null;
    else die(`unknown option ${a}\n\n${USAGE}`, 2);
  }
  if (size !== 'full' && size !== 'small' && size !== 'huge') die(`--size must be full, small or huge, got "${size}"`, 2);
  o.size = size;
  loadSize ??= size === 'small' ? 'small' : 'full';
  if (loadSize !== 'full' && loadSize !== 'small') die(`--load-size must be full or small, got "${loadSize}"`, 2);
  o.loadSize = loadSize;
  if (!Number.isInteger(o.extraRounds) || o.extraRounds < 0 || o.extraRounds > 10) die(`--extra-rounds must be a whole number from 0 to 10`, 2);
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 50) die(`--runs must be a whole number from 1 to 50`, 2);
  if (!(o.hugeGiB > 0 && o.hugeGiB <= 64)) die(`--huge-gib must be a number of GiB above 0 and up to 64`, 2);
  return o;
}

/** The size of the big image fixture: huge runs the full one (the huge layer is its own fixture). */
export const imageSize = (s: Size): 'full' | 'small' => (s === 'small' ? 'small' : 'full');
