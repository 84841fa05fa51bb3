/** HTTP response headers as undici gives them: a value may be repeated (an array). */
export type Headers = Record<string, string | string[] | undefined>;

/** The first value of header `name` (lowercase), or undefined. */
export function headerValue(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}
