/**
 * What a command prints. On a terminal (stderr is a TTY, not --quiet, no CI): a live region of
 * progress bars at the bottom, one per running entry, with every info and warning line printed
 * above it as it happens; a finished entry's bar is drawn a last time (100%, its average rate,
 * or "cached") and stays in the scrollback. Otherwise plain lines, no bars. --quiet prints only
 * warnings; with --json the one report goes to stdout at the end. Retries (registry/retry.ts)
 * are info lines.
 */
import { onRetry, type RetryEvent } from '../registry/retry.js';
import { reportState } from './report-state.js';
import type { GlobalArgs } from './commands.js';

export interface OutputOptions {
  quiet: boolean;
  json: boolean;
  /** Where people's output goes; process.stderr unless a test says otherwise. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number; rows?: number };
}

/** 0 B, 999 B, 1.5 KB, 12.3 MB (decimal units, as registries and docker report sizes). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 999.95 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** 20 ms, 0.5 s, 2 s, 12 s: short waits as people read them. */
export function formatSeconds(ms: number): string {
  if (ms < 100) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return `${s >= 10 ? Math.round(s) : Number(s.toFixed(1))} s`;
}

/** The line a retry prints: "fetching X: retrying in 2 s (2/5): connection reset". */
export function retryLine(e: RetryEvent): string {
  return `${e.what}: retrying in ${formatSeconds(e.delayMs)} (${e.attempt}/${e.attempts}): ${e.reason}`;
}

interface Entry {
  name: string;
  total: number;
  done: number;
  started: number;
  /** Set when the entry ended: what replaces the rate column. */
  end?: string;
}

/** How an entry ended, for its last bar: failed, or how many bytes really moved (0: "cached"). */
export interface EntryEnd {
  failed?: boolean;
  /** Bytes transferred (the rest came from a cache); 0 shows "cached". Default: all of them. */
  moved?: number;
  /** Replaces the rate column ("present"). */
  label?: string;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 150;

/** One bar line: ` ████░░░░  45% |  12.3 MB / 27.1 MB |  4.5 MB/s | name`, cut to `width`. */
export function barLine(e: Entry, now: number, width: number): string {
  const ratio = e.total > 0 ? Math.min(1, e.done / e.total) : e.end ? 1 : 0;
  const filled = Math.round(ratio * BAR_WIDTH);
  const pct = `${Math.floor(ratio * 100)}%`.padStart(4);
  const secs = Math.max(0.001, (now - e.started) / 1000);
  const rate = e.end ?? `${formatBytes(e.done / secs)}/s`;
  const sizes = `${formatBytes(Math.min(e.done, e.total)).padStart(8)} / ${formatBytes(e.total).padStart(8)}`;
  const line = ` ${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ${pct} | ${sizes} | ${rate.padStart(10)} | ${e.name}`;
  return [...line].length > width ? `${[...line].slice(0, Math.max(0, width - 1)).join('')}…` : line;
}

export class Output {
  private readonly stream: NonNullable<OutputOptions['stream']>;
  private readonly live: boolean;
  private readonly byKey = new Map<string, Entry>();
  /** Entries drawn in the live region, in start order. */
  private readonly active: Entry[] = [];
  /** Lines to print above the live region at the next draw. */
  private pending: string[] = [];
  /** How many lines the live region takes on screen now. */
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: OutputOptions) {
    this.stream = opts.stream ?? process.stderr;
    this.live = !opts.quiet && Boolean(this.stream.isTTY) && !process.env.CI;
    if (!opts.quiet) onRetry((e) => this.info(retryLine(e)));
  }

  /** A message for people (stderr), unless --quiet. */
  info(line: string): void {
    if (this.opts.quiet) return;
    this.line(line);
  }

  /** A warning: shown even with --quiet. */
  warn(line: string): void {
    this.line(`warning: ${line}`);
  }

  /** Starts a progress entry of `total` bytes (a bar on a terminal). */
  start(key: string, name: string, total: number): void {
    const e: Entry = { name, total, done: 0, started: Date.now() };
    this.byKey.set(key, e);
    if (!this.live) return;
    this.active.push(e);
    this.schedule();
  }

  /** Adds `n` bytes to an entry; an entry that reaches its total ends by itself. */
  progress(key: string, n: number): void {
    const e = this.byKey.get(key);
    if (!e || e.end) return;
    e.done += n;
    if (e.total > 0 && e.done >= e.total) this.done(key);
    else if (this.live) this.schedule();
  }

  /** Ends an entry: on a terminal its bar is drawn once more (100% unless failed) and stays. */
  done(key: string, how: EntryEnd = {}): void {
    const e = this.byKey.get(key);
    if (!e || e.end) return;
    const secs = Math.max(0.001, (Date.now() - e.started) / 1000);
    const moved = how.moved ?? e.done;
    if (!how.failed) e.done = Math.max(e.done, e.total);
    e.end = how.label ?? (how.failed ? 'failed' : moved === 0 ? 'cached' : `${formatBytes(moved / secs)}/s`);
    if (!this.live) return;
    this.retire(e);
    this.draw();
  }

  /** Ends the live region: running bars are drawn as they are and stay; later lines print plainly. */
  stop(): void {
    if (!this.live) return;
    for (const e of [...this.active]) this.retire(e);
    this.draw();
  }

  /** Prints the --json report on stdout. */
  report(doc: unknown): void {
    if (!this.opts.json) return;
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    reportState.printed = true;
  }

  private line(text: string): void {
    if (!this.live) {
      this.stream.write(`${text}\n`);
      return;
    }
    this.pending.push(text);
    this.draw();
  }

  /** Moves an entry from the live region to the lines above it. */
  private retire(e: Entry): void {
    const i = this.active.indexOf(e);
    if (i < 0) return;
    this.active.splice(i, 1);
    this.pending.push(barLine(e, Date.now(), this.width()));
  }

  private width(): number {
    return Math.max(20, (this.stream.columns ?? 80) - 1);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, REDRAW_MS);
    this.timer.unref();
  }

  /**
   * Redraws: cursor up over the live region, clear to the end of the screen, the pending lines,
   * then the running bars (each cut to the width, so none wraps and the count stays right).
   */
  private draw(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    let s = this.drawn > 0 ? `\r\x1b[${this.drawn}A\x1b[J` : '';
    for (const l of this.pending) s += `${l}\n`;
    this.pending = [];
    const room = Math.max(1, (this.stream.rows ?? 24) - 2);
    const shown = this.active.length > room ? this.active.slice(0, room - 1) : this.active;
    const now = Date.now();
    for (const e of shown) s += `${barLine(e, now, this.width())}\n`;
    let drawn = shown.length;
    if (shown.length < this.active.length) {
      s += `  ... and ${this.active.length - shown.length} more\n`;
      drawn++;
    }
    this.drawn = drawn;
    if (s) this.stream.write(s);
  }
}

/** The output of a command, from its --quiet and --json. */
export function makeOutput(a: GlobalArgs): Output {
  return new Output({ quiet: a.quiet, json: a.json });
}
