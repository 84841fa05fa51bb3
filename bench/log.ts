/** Progress lines (stderr), fatal exits and number formats shared by the bench modules. */

export const MB = 1e6;
export const MiB = 1024 * 1024;

/** One progress line on stderr (the tables go to stdout). */
export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Thrown for a bad command line or a missing tool: run.ts prints it and exits with `code`. */
export class BenchExit extends Error {
  constructor(
    message: string,
    readonly code = 1,
  ) {
    super(message);
  }
}

/** Throws a BenchExit (the message is printed as "bench: ..."). */
export function die(message: string, code = 1): never {
  throw new BenchExit(message, code);
}

/** Bytes as MB (10^6) with one decimal. */
export const fmtMB = (bytes: number): string => (bytes / MB).toFixed(1);

/** The last `lines` lines of `text`, indented, for error messages. */
export function indentTail(text: string | undefined, lines = 20): string {
  return String(text ?? '')
    .trimEnd()
    .split('\n')
    .slice(-lines)
    .map((l) => `    ${l}`)
    .join('\n');
}

/** Seconds since `t0` (Date.now()), one decimal. */
export const since = (t0: number): string => ((Date.now() - t0) / 1000).toFixed(1);
