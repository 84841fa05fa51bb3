/**
 * A small subset of Go's text/template, for `--format` as Docker users type it
 * (`'{{.Os}}'`, `'{{.Config.Env}}'`, `'{{json .Config.Labels}}'`). Supported:
 * - text outside actions, printed as is;
 * - `{{.}}` and field paths `{{.A.B.C}}` (a missing field prints `<no value>`, as Go does for
 *   a map key that is not there);
 * - `{{json PATH}}`: the value as JSON on one line, escaped as Go's encoding/json does
 *   (`<`, `>`, `&` as \u003c, \u003e, \u0026);
 * - `{{- ` and ` -}}` (trim the white space before or after the action).
 * Values print as Go's fmt prints them: a list as `[a b]`, an object as `map[k:v]` with keys
 * sorted, null as `<nil>`. Anything else (`range`, `if`, `index`, pipes, variables, `table`)
 * is refused with a UsageError (exit 2) naming the action.
 */
import { UsageError } from '../errors.js';

type Part = { text: string } | { path: string[]; json: boolean; source: string };

const SUPPORTED = 'the --format subset supports text, {{.Field.Path}}, {{.}} and {{json .Field.Path}} (see docs/cli.md)';

function parsePath(expr: string, action: string): string[] {
  if (expr === '.') return [];
  if (!/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(expr)) {
    throw new UsageError(`--format: ${action} is not supported`, SUPPORTED);
  }
  return expr.slice(1).split('.');
}

/** Parses a template. Throws a UsageError (exit 2) for an unsupported or unterminated action. */
export function parseTemplate(template: string): Part[] {
  const parts: Part[] = [];
  let rest = template;
  while (rest.length) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      parts.push({ text: rest });
      break;
    }
    let text = rest.slice(0, open);
    const close = rest.indexOf('}}', open + 2);
    if (close < 0) throw new UsageError(`--format: an action opened with {{ is never closed with }}: ${JSON.stringify(template)}`, SUPPORTED);
    let inner = rest.slice(open + 2, close);
    rest = rest.slice(close + 2);
    if (/^-\s/.test(inner)) {
      text = text.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    if (/\s-$/.test(inner)) {
      rest = rest.replace(/^\s+/, '');
      inner = inner.slice(0, -1);
    }
    if (text) parts.push({ text });
    const action = `{{${inner.trim()}}}`;
    const words = inner.trim().split(/\s+/).filter(Boolean);
    if (words.length === 1) parts.push({ path: parsePath(words[0]!, action), json: false, source: action });
    else if (words.length === 2 && words[0] === 'json') parts.push({ path: parsePath(words[1]!, action), json: true, source: action });
    else throw new UsageError(`--format: ${action} is not supported`, SUPPORTED);
  }
  return parts;
}

const MISSING = Symbol('missing');

function lookup(data: unknown, path: readonly string[]): unknown {
  let v: unknown = data;
  for (const key of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, key)) return MISSING;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A value as Go's fmt `%v` prints it: `[a b]`, `map[a:1 b:2]` (keys sorted), `<nil>`. */
export function goPrint(v: unknown): string {
  if (v === MISSING || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goPrint).join(' ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o).sort().map((k) => `${k}:${goPrint(o[k])}`).join(' ')}]`;
  }
  return String(v);
}

/** JSON as Go's encoding/json writes it: compact, with <, > and & escaped. */
export function goJson(v: unknown): string {
  const s = JSON.stringify(v === MISSING || v === undefined ? null : v);
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Executes a parsed template over `data` (plain JSON values). */
export function executeTemplate(parts: readonly Part[], data: unknown): string {
  return parts.map((p) => ('text' in p ? p.text : p.json ? goJson(lookup(data, p.path)) : goPrint(lookup(data, p.path)))).join('');
}

/** Parses and executes; throws a UsageError (exit 2) for what the subset does not support. */
export function renderTemplate(template: string, data: unknown): string {
  return executeTemplate(parseTemplate(template), data);
}
