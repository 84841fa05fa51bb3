/**
 * `--htpasswd FILE`: HTTP Basic authentication against an Apache htpasswd file, as the CNCF
 * registry's htpasswd auth does. Entries made by `htpasswd -B` (bcrypt, `$2y$`/`$2a$`/`$2b$`)
 * are checked with bcryptjs (Node has no bcrypt); `{SHA}` entries (`htpasswd -s`) with
 * node:crypto. Other schemes (MD5 `$apr1$`, crypt, plain text) are refused when the file is
 * read, naming the line. A password found good is remembered (as a salted sha256, never the
 * password) so that a pull of many blobs costs one bcrypt check, not one per request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { UsageError } from '../errors.js';
import { osReason } from '../fs/io-error.js';

type Entry = { kind: 'bcrypt'; hash: string } | { kind: 'sha1'; hash: Buffer };

export class Htpasswd {
  private readonly good = new Set<string>();
  private readonly salt = randomBytes(16);

  private constructor(private readonly entries: Map<string, Entry>) {}

  /** Reads and checks the file. Throws UsageError (exit 2) for an unreadable file or an unsupported entry. */
  static async load(file: string): Promise<Htpasswd> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`reading the htpasswd file ${file}: ${osReason(err)}`, 'make it with `htpasswd -cB FILE USER`');
    }
    return new Htpasswd(parseHtpasswd(text, file));
  }

  /** Whether the `Authorization` header carries a user and password of the file; resolves the user name. */
  async check(authorization: string | undefined): Promise<string | undefined> {
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const entry = this.entries.get(user);
    if (!entry) return undefined;
    const key = createHash('sha256').update(this.salt).update(user).update('\0').update(password).digest('hex');
    if (this.good.has(key)) return user;
    const ok = entry.kind === 'bcrypt' ? await bcrypt.compare(password, entry.hash) : sha1Matches(password, entry.hash);
    if (!ok) return undefined;
    this.good.add(key);
    return user;
  }
}

function sha1Matches(password: string, expected: Buffer): boolean {
  const got = createHash('sha1').update(password).digest();
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** Parses htpasswd text. Throws UsageError naming FILE:LINE for an entry it cannot check. */
export function parseHtpasswd(text: string, file: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    const where = `${file}:${i + 1}`;
    if (colon <= 0) throw new UsageError(`${where} is not a USER:HASH line`, 'make the file with `htpasswd -cB FILE USER`');
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) out.set(user, { kind: 'bcrypt', hash });
    else if (hash.startsWith('{SHA}')) out.set(user, { kind: 'sha1', hash: Buffer.from(hash.slice(5), 'base64') });
    else throw new UsageError(`${where}: the entry of user "${user}" is not bcrypt or {SHA}; ferry serve checks only those`, 'make it again with `htpasswd -B FILE USER` (bcrypt)');
  }
  if (out.size === 0) throw new UsageError(`the htpasswd file ${file} has no entries`, 'add one with `htpasswd -B FILE USER`');
  return out;
}
