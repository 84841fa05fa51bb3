/**
 * Choosing tags of a repository (docs/manifest-file.md, `images[].tags`): an exact list, a
 * regular expression, a semver range, the N highest versions, or every tag; then `limit`.
 * Pure: the tags come from the registry's tag list (registry/tag-list.ts), chosen here.
 *
 * Versions are tags of the form `v?MAJOR[.MINOR[.PATCH]][-PRERELEASE]` (missing parts are 0;
 * a tag cannot hold semver's `+build`). Tags that are not versions ("latest", "stable",
 * "sha-1a2b3c") never match a range and are never among the `latest` N. Ranges are
 * comparators (`>=1.26`, `>1.2.3`, `<2`, `<=1.27.9`, `=1.2.3`, `1.2.3`, `^1.2`, `~1.2.3`)
 * joined by spaces (all must hold) and `||` (either side). A pre-release (1.27.0-rc.1) matches
 * a range only when one of its comparators names a pre-release of the same MAJOR.MINOR.PATCH,
 * as in npm's semver.
 */

export interface Version {
  major: number;
  minor: number;
  patch: number;
  /** Dot-separated pre-release identifiers; empty for a release. */
  pre: string[];
}

const VERSION = /^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;

/** Parses a version tag; undefined when the tag is not a version. */
export function parseVersion(tag: string): Version | undefined {
  const m = VERSION.exec(tag);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2] ?? 0), patch: Number(m[3] ?? 0), pre: m[4] ? m[4].split('.') : [] };
}

function comparePre(a: string[], b: string[]): number {
  if (!a.length || !b.length) return b.length - a.length; // a release sorts above its pre-releases
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) {
      if (Number(x) !== Number(y)) return Number(x) - Number(y);
    } else if (nx !== ny) return nx ? -1 : 1;
    else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Semver precedence: negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch || comparePre(a.pre, b.pre);
}

type Op = '<' | '<=' | '>' | '>=' | '=';
interface Comparator {
  op: Op;
  v: Version;
}
/** OR of ANDs. */
export type Range = Comparator[][];

const COMPARATOR = /^(<=|>=|<|>|=|\^|~)?\s*(v?\d[0-9A-Za-z.-]*)$/;

/** Parses a range; throws an Error naming the part that is not a comparator. */
export function parseRange(text: string): Range {
  const alternatives = text.split('||').map((alt) => {
    // "> = 1.2" is not allowed, but ">= 1.2" is: glue an operator to the version after it.
    const parts = alt.trim().replace(/(<=|>=|<|>|=|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    if (!parts.length) throw new Error(`"${text}" has an empty alternative`);
    return parts.flatMap((p) => comparators(p, text));
  });
  return alternatives;
}

function comparators(part: string, text: string): Comparator[] {
  const m = COMPARATOR.exec(part);
  const v = m ? parseVersion(m[2]!) : undefined;
  if (!m || !v) throw new Error(`"${part}" in "${text}" is not a comparator (e.g. >=1.26, <1.28.0, ^2.1, ~1.4.2)`);
  const op = m[1] ?? '=';
  const given = m[2]!.replace(/^v/, '').split('-')[0]!.split('.').length;
  if (op === '^') {
    const upper = v.major > 0 || given === 1 ? { major: v.major + 1, minor: 0, patch: 0 } : v.minor > 0 || given === 2 ? { major: 0, minor: v.minor + 1, patch: 0 } : { major: 0, minor: 0, patch: v.patch + 1 };
    return [{ op: '>=', v }, { op: '<', v: { ...upper, pre: ['0'] } }];
  }
  if (op === '~') {
    const upper = given === 1 ? { major: v.major + 1, minor: 0, patch: 0 } : { major: v.major, minor: v.minor + 1, patch: 0 };
    return [{ op: '>=', v }, { op: '<', v: { ...upper, pre: ['0'] } }];
  }
  if (op === '=' && given < 3 && !v.pre.length) {
    // "=1.27" and "1.27" mean every 1.27.x, as in npm.
    const upper = given === 1 ? { major: v.major + 1, minor: 0, patch: 0 } : { major: v.major, minor: v.minor + 1, patch: 0 };
    return [{ op: '>=', v }, { op: '<', v: { ...upper, pre: ['0'] } }];
  }
  if (op === '<' && !v.pre.length) return [{ op, v: { ...v, pre: ['0'] } }]; // <1.28 excludes 1.28.0-rc.1
  return [{ op: op as Op, v }];
}

function holds(c: Comparator, v: Version): boolean {
  const d = compareVersions(v, c.v);
  switch (c.op) {
    case '<': return d < 0;
    case '<=': return d <= 0;
    case '>': return d > 0;
    case '>=': return d >= 0;
    case '=': return d === 0;
  }
}

const sameTriple = (a: Version, b: Version): boolean => a.major === b.major && a.minor === b.minor && a.patch === b.patch;

/** Whether a version satisfies a range (pre-releases only where a comparator allows them). */
export function satisfies(v: Version, range: Range): boolean {
  return range.some((all) => all.every((c) => holds(c, v)) && (!v.pre.length || all.some((c) => c.v.pre.length > 0 && c.v.pre[0] !== '0' && sameTriple(c.v, v))));
}

export type TagSelector = string[] | { regex: string } | { semver: string } | { latest: number } | 'all';

/**
 * Orders tags for `limit`: versions highest first (a tag without the `v` before the same
 * version with it), then the other tags in reverse lexical order.
 */
export function rankTags(tags: readonly string[]): string[] {
  const key = tags.map((t) => ({ t, v: parseVersion(t) }));
  return key
    .sort((a, b) => {
      if (a.v && b.v) return compareVersions(b.v, a.v) || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0);
      if (a.v || b.v) return a.v ? -1 : 1;
      return a.t < b.t ? 1 : a.t > b.t ? -1 : 0;
    })
    .map((k) => k.t);
}

/**
 * The tags a selector chooses from `available`, ranked (rankTags) and cut to `limit`. A listed
 * tag the repository lacks is still chosen (pulling it then fails with the registry's 404,
 * naming the tag). Throws an Error for an invalid regex or range (load.ts checks both first).
 */
export function selectTags(available: readonly string[], selector: TagSelector, limit?: number): string[] {
  let chosen: string[];
  if (selector === 'all') chosen = [...available];
  else if (Array.isArray(selector)) chosen = [...new Set(selector)];
  else if ('regex' in selector) {
    const re = new RegExp(`^(?:${selector.regex})$`);
    chosen = available.filter((t) => re.test(t));
  } else if ('semver' in selector) {
    const range = parseRange(selector.semver);
    chosen = available.filter((t) => {
      const v = parseVersion(t);
      return v !== undefined && satisfies(v, range);
    });
  } else {
    chosen = rankTags(available.filter((t) => parseVersion(t)?.pre.length === 0)).slice(0, selector.latest);
  }
  const ranked = rankTags(chosen);
  return limit === undefined ? ranked : ranked.slice(0, limit);
}

/** A selector as one line, for messages and the lock file: `semver ">=1.26 <1.28"`. */
export function describeSelector(selector: TagSelector, limit?: number): string {
  const s = selector === 'all' ? 'all' : Array.isArray(selector) ? `[${selector.join(', ')}]` : 'regex' in selector ? `regex ${JSON.stringify(selector.regex)}` : 'semver' in selector ? `semver ${JSON.stringify(selector.semver)}` : `latest ${selector.latest}`;
  return limit === undefined ? s : `${s}, limit ${limit}`;
}
