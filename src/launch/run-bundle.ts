/**
 * Runs ferry's CLI from its one-file bundle (dist/cli.cjs, written by `npm run build`) with a V8
 * code cache beside it, as Node 22's `module.enableCompileCache()` does for modules, on every
 * Node ferry supports (20.18 has no such API). Compiling the CLI's JavaScript is most of a short
 * command's run time (an unchanged re-export: about 0.1 s of 0.4 s); with the cache, V8
 * deserializes the functions a command needs instead of compiling them.
 *
 * The cache, `<bundle dir>/code-cache/cli-<node version>-<arch>.bin`:
 * - one header line of JSON, then V8's cached data. The header names the bundle it was made from
 *   (size and modification time), the commands whose functions it holds, and the data's CRC32:
 *   a cache of another build, a damaged or truncated one is never handed to V8, which checks
 *   only its own version, its flags and the source's length;
 * - written when a run compiled what the cache lacks (no cache, one V8 rejected, or a command
 *   not run before), at the process's exit, to a temporary file renamed into place: two runs at
 *   once each write a whole file, and a reader sees the old one or the new one;
 * - it lives with the code it caches (the same owner and permissions): where that directory is
 *   not writable, ferry runs without a cache. `FERRY_CODE_CACHE=0` turns it off.
 * Nothing here changes what the CLI does or its exit code: every failure of the cache is ignored.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';
import { crc32 } from 'node:zlib';

const MAGIC = 'ferry-code-cache/1';
/** Commands one cache records (ferry has about thirty; mistyped ones count too): then it stays as it is. */
const MAX_COMMANDS = 64;

/** What the header line of a cache file says. */
export interface CacheHeader {
  magic: typeof MAGIC;
  /** The bundle the data was made from: `<size>:<mtimeMs>`. */
  source: string;
  /** The commands run with this cache (their functions are in it). */
  commands: string[];
  /** CRC32 and length of the data after the header line. */
  crc: number;
  length: number;
}

/** The command a run's arguments name (the first that is not an option), for the cache's bookkeeping. */
export function commandOf(argv: readonly string[]): string {
  return argv.find((a) => !a.startsWith('-')) ?? (argv[0] ?? '');
}

/** A cache file's bytes: the header line, then the data. */
export function encodeCache(source: string, commands: readonly string[], data: Buffer): Buffer {
  const header: CacheHeader = { magic: MAGIC, source, commands: [...commands], crc: crc32(data), length: data.length };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), data]);
}

/** The data and commands of a cache file made from `source`, or undefined when it is another build's, damaged or not one. */
export function decodeCache(file: Buffer, source: string): { data: Buffer; commands: string[] } | undefined {
  const nl = file.indexOf(10);
  if (nl < 0 || nl > 64 * 1024) return undefined;
  let header: Partial<CacheHeader>;
  try {
    header = JSON.parse(file.subarray(0, nl).toString('utf8')) as Partial<CacheHeader>;
  } catch {
    return undefined;
  }
  if (header.magic !== MAGIC || header.source !== source || !Array.isArray(header.commands)) return undefined;
  const data = file.subarray(nl + 1);
  if (data.length !== header.length || crc32(data) !== header.crc) return undefined;
  return { data, commands: header.commands.filter((c): c is string => typeof c === 'string') };
}

/** Where the cache of `bundle` is kept for this Node. */
export function cachePath(bundle: string): string {
  return join(dirname(bundle), 'code-cache', `cli-${process.version}-${process.arch}.bin`);
}

function writeCache(file: string, bytes: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  } catch {
    rmSync(tmp, { force: true });
  }
}

interface Bundle {
  runCli(argv: string[]): unknown;
}

/** A compiled bundle: its CLI, and how to keep what this run compiled (undefined: nothing to keep). */
export interface LoadedBundle {
  runCli(argv: string[]): unknown;
  /** Whether V8 took the cache (false: there was none, or it was rejected). */
  cached: boolean;
  persist?: () => void;
}

/** Compiles and runs `bundle` (a CommonJS script exporting runCli), with the code cache for `command`. */
export function loadBundle(bundle: string, command: string, useCache = process.env.FERRY_CODE_CACHE !== '0'): LoadedBundle {
  const code = readFileSync(bundle, 'utf8');
  let source = '';
  let found: { data: Buffer; commands: string[] } | undefined;
  const file = cachePath(bundle);
  if (useCache) {
    try {
      const st = statSync(bundle);
      source = `${st.size}:${st.mtimeMs}`;
      found = decodeCache(readFileSync(file), source);
    } catch {
      found = undefined;
    }
  }
  const script = new Script(Module.wrap(code), { filename: bundle, ...(found ? { cachedData: found.data } : {}) });
  const cached = found !== undefined && !script.cachedDataRejected;
  const commands = cached ? found!.commands : [];
  const wrapper = script.runInThisContext() as (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;
  const mod = { exports: {} as Bundle };
  wrapper.call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, dirname(bundle));
  const persist =
    useCache && source && !commands.includes(command) && commands.length < MAX_COMMANDS
      ? () => {
          try {
            writeCache(file, encodeCache(source, [...commands, command], script.createCachedData()));
          } catch {
            // a cache that cannot be made is no cache
          }
        }
      : undefined;
  return { runCli: (argv) => mod.exports.runCli(argv), cached, ...(persist ? { persist } : {}) };
}

/** bin/ferry: runs the CLI of `bundle` on `argv`; at exit, the script's compiled functions (this command's among them) go into the cache. */
export function runBundle(bundle: string, argv: string[]): unknown {
  const loaded = loadBundle(bundle, commandOf(argv));
  if (loaded.persist) process.once('exit', loaded.persist);
  return loaded.runCli(argv);
}
