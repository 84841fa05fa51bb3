/**
 * Where the bench lives. This file runs compiled, as bench/.build/bench/paths.js (see
 * bench/tsconfig.json), so the checkout's root is three levels up.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The checkout's top directory. */
export const ROOT = resolve(here, '..', '..', '..');
/** bench/ in the checkout (sources, README, results.json). */
export const BENCH_DIR = join(ROOT, 'bench');
/** Cached fixtures and per-run temp dirs. */
export const WORK = join(BENCH_DIR, '.work');
/** Raw numbers of the last run. */
export const RESULTS = join(BENCH_DIR, 'results.json');
/** The compiled floor script (gunzip + sha256 of a file in Node). */
export const FLOOR_SCRIPT = join(here, 'floor-gunzip-sha256.js');
/** The compiled registry client of the serve scenarios. */
export const PULL_SCRIPT = join(here, 'pull-clients.js');
