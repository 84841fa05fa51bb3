/**
 * Error model. Every failure a user can meet is a FerryError with a stable `code`; the CLI picks
 * the exit code and hint from the code, never from message text. The original error is kept as
 * `cause` so `--debug` can print the chain.
 */
export type ErrorCode =
  | 'USAGE'
  | 'REFERENCE'
  | 'MANIFEST_FILE'
  | 'AUTH'
  | 'REGISTRY'
  | 'NOT_FOUND'
  | 'NETWORK'
  | 'DIGEST_MISMATCH'
  | 'UNSUPPORTED'
  | 'BUNDLE_FORMAT'
  | 'ENGINE'
  | 'IO'
  | 'LOCKED'
  | 'POLICY'
  | 'PARTIAL';

/** Exit codes, documented in docs/cli.md. */
export const EXIT = { ok: 0, failure: 1, usage: 2, partial: 3 } as const;

export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.hint = options.hint;
  }

  /** The exit code this error maps to: 2 for invalid input, 1 otherwise. */
  get exitCode(): number {
    return this.code === 'USAGE' || this.code === 'REFERENCE' || this.code === 'MANIFEST_FILE'
      ? EXIT.usage
      : this.code === 'PARTIAL'
        ? EXIT.partial
        : EXIT.failure;
  }
}

/** Thrown for invalid command-line input. Exit 2. */
export class UsageError extends FerryError {
  constructor(message: string, hint?: string) {
    super('USAGE', message, hint === undefined ? {} : { hint });
    this.name = 'UsageError';
  }
}

/** Thrown when a blob or manifest does not hash to its expected digest or size. Exit 1. */
export class DigestMismatchError extends FerryError {
  constructor(
    readonly subject: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super('DIGEST_MISMATCH', `${subject}: expected ${expected}, calculated ${actual}`, {
      hint: 'the content was corrupted in transit or at rest; retry, and check the registry or the medium',
    });
    this.name = 'DigestMismatchError';
  }
}

/**
 * Wraps an error with what ferry was doing ("pulling X: cause"). A FerryError keeps its code;
 * anything else becomes `fallback`.
 */
export function wrap(context: string, err: unknown, fallback: ErrorCode = 'IO'): FerryError {
  if (err instanceof FerryError) {
    const wrapped = new FerryError(err.code, `${context}: ${err.message}`, {
      cause: err,
      ...(err.hint === undefined ? {} : { hint: err.hint }),
    });
    return wrapped;
  }
  return new FerryError(fallback, `${context}: ${describe(err)}`, { cause: err });
}

/** A one-line description of any thrown value, with Node's error code when it has one. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const msg = err.message || err.name;
    const cause = err.cause instanceof Error && err.cause.message !== msg ? ` (${err.cause.message})` : '';
    return code && !msg.includes(code) ? `${msg} [${code}]${cause}` : `${msg}${cause}`;
  }
  return String(err);
}
