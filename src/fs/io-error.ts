/**
 * Local file-system failures as users should read them: the path, what ferry was doing, the OS
 * reason in words ("no space left on device"), and a hint that fits the reason. Every write
 * ferry makes (bundle, sidecar, lock and mapping files, Docker config, cache) goes through here
 * when it fails, so the exit code and the message do not depend on which write it was.
 */
import { FerryError } from '../errors.js';

/** The OS reason of an errno code in words, as strerror(3) says it. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ENOENT: 'no such file or directory',
  EEXIST: 'file exists',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ENAMETOOLONG: 'file name too long',
  EXDEV: 'cross-device link',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'text file busy',
  EFBIG: 'file too large',
  ELOOP: 'too many levels of symbolic links',
};

/** The errno code of a Node error, if it has one. */
export function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/** Whether `err` is a local file-system error (it carries a syscall or an errno code ferry knows). */
export function isFsError(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return !!e && typeof e === 'object' && (typeof e.syscall === 'string' || (errnoCode(e) !== undefined && errnoCode(e)! in REASONS));
}

/** The reason of a file-system error in words, falling back to its message. */
export function osReason(err: unknown): string {
  const code = errnoCode(err);
  if (code && REASONS[code]) return REASONS[code]!;
  return err instanceof Error ? err.message : String(err);
}

/** A hint that fits an errno code when writing at `path`; `fallback` for other codes. */
export function osHint(code: string | undefined, path: string, fallback: string | undefined): string | undefined {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return `free space where ${path} lives, or choose another location; downloaded blobs stay in the cache, so a rerun resumes`;
    case 'EROFS':
      return 'that file system is mounted read-only; choose a writable location';
    case 'EACCES':
    case 'EPERM':
      return `the user running ferry (uid ${process.getuid?.() ?? '?'}) may not write there; choose another location or fix its permissions`;
    case 'EISDIR':
      return 'name a file, not a directory';
    case 'ENOTDIR':
    case 'ENOENT':
      return 'check the path';
    default:
      return fallback;
  }
}

/**
 * An IO FerryError for a failed local operation: "`doing` `path`: reason". A FerryError passes
 * through unchanged (it already says what went wrong).
 */
export function ioError(doing: string, path: string, err: unknown, hint?: string): FerryError {
  if (err instanceof FerryError) return err;
  const code = errnoCode(err);
  // The failing file may be another one than `path` (a cache blob read while writing a bundle).
  const other = (err as NodeJS.ErrnoException | undefined)?.path;
  const at = typeof other === 'string' && other !== path && !other.endsWith('.partial') ? ` (${other})` : '';
  const h = osHint(code, at ? other! : path, hint);
  return new FerryError('IO', `${doing} ${path}: ${osReason(err)}${at}`, { cause: err, ...(h ? { hint: h } : {}) });
}
