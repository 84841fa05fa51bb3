/**
 * Child processes for the e2e harness: commands run to completion (`run`), and long-running
 * servers (`startDaemon`) that are always stopped, even when a test file dies half-way.
 *
 * Every child is registered in a table until it exits; a synchronous `exit` hook SIGKILLs
 * whatever is still in it and then runs the `atExit` cleanups, so an interrupted suite leaves
 * no registries, dockerd or ferry behind. `Daemon.stop()` is the orderly path: SIGTERM, wait,
 * then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs';

/** What a finished command produced. `code` is null when it was killed by a signal. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | Buffer;
  /** Kill the command (SIGKILL) after this long. Default 120 s. */
  timeoutMs?: number;
  /** Run as this user and group (the test runs as root; a fault test needs an ordinary user). */
  uid?: number;
  gid?: number;
  /** Write stdout to this file instead of keeping it in memory (`stdout` is then ''). */
  stdoutFile?: string;
  /** Write stderr to this file instead of keeping it in memory (`stderr` is then ''). */
  stderrFile?: string;
  /**
   * Run in a process group of its own; the exit hook then kills the whole group, so a wrapper
   * (`/usr/bin/time -- cmd`) does not leave its command behind.
   */
  group?: boolean;
}

/**
 * Runs `cmd args` to completion and returns its exit code and output. Never throws for a
 * non-zero exit; throws only when the command cannot be started at all (ENOENT).
 */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const outFd = opts.stdoutFile === undefined ? undefined : openSync(opts.stdoutFile, 'w');
    const errFd = opts.stderrFile === undefined ? undefined : openSync(opts.stderrFile, 'w');
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, {
        env: opts.env ?? process.env,
        cwd: opts.cwd,
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', outFd ?? 'pipe', errFd ?? 'pipe'],
        detached: opts.group ?? false,
        ...(opts.uid === undefined ? {} : { uid: opts.uid }),
        ...(opts.gid === undefined ? {} : { gid: opts.gid }),
      });
    } finally {
      if (outFd !== undefined) closeSync(outFd);
      if (errFd !== undefined) closeSync(errFd);
    }
    track(child, opts.group ?? false);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      try {
        if (opts.group && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`running ${cmd}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** Like `run`, but throws (with the output) unless the command exits 0. Returns stdout. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited ${r.code ?? r.signal}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    );
  }
  return r.stdout;
}

/** A long-running child whose stdout and stderr go to one log file. */
export interface Daemon {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** True until the process has exited. */
  running(): boolean;
  /** The log so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after `graceMs` (default 10 s). Resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Live children; true for those in a process group of their own (killed as a group). */
const live = new Map<ChildProcess, boolean>();
const cleanups = new Set<() => void>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const [c, group] of live) {
      try {
        if (group && c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
        else c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const fn of cleanups) {
      try {
        fn();
      } catch {
        /* best effort */
      }
    }
  });
}

/** Keeps `child` in the kill-on-exit table until it exits. */
function track(child: ChildProcess, group = false): void {
  hookExit();
  live.set(child, group);
  child.on('exit', () => live.delete(child));
  child.on('error', () => live.delete(child));
}

/**
 * Registers a synchronous cleanup for an abnormal exit of the test process, run after every
 * live daemon was SIGKILLed (e.g. unmounting and deleting a temp dir). Returns a function
 * that unregisters it, for the orderly path.
 */
export function atExit(fn: () => void): () => void {
  hookExit();
  cleanups.add(fn);
  return () => void cleanups.delete(fn);
}

/**
 * SIGKILLs every process whose command line mentions `path` (a harness temp dir, so only
 * processes this harness started, directly or not: e.g. containerd shims left by a dockerd
 * that had to be killed). Returns the pids it signalled.
 */
export function killProcessesMentioning(path: string): number[] {
  const killed: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (!cmdline.includes(path)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* exited meanwhile */
    }
  }
  return killed;
}

/** Starts `cmd args` in the background with output appended to `logFile`. */
export function startDaemon(
  cmd: string,
  args: readonly string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): Daemon {
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  track(child);
  let alive = true;
  const exited = new Promise<number | string>((resolve) => {
    child.on('error', (e) => {
      alive = false;
      resolve(`spawn error: ${e.message}`);
    });
    child.on('exit', (code, signal) => {
      alive = false;
      resolve(code ?? signal ?? 'unknown');
    });
  });
  return {
    child,
    pid: child.pid ?? -1,
    logFile: opts.logFile,
    exited,
    running: () => alive,
    log: () => readFileSync(opts.logFile, 'utf8'),
    async stop(graceMs = 10_000) {
      if (!alive) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The last `n` lines of a log, for error messages. */
export function tail(text: string, n = 30): string {
  return text.split('\n').slice(-n).join('\n');
}
