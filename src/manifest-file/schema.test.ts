import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { manifestJsonSchema } from './schema.js';

describe('manifest file JSON Schema', () => {
  it('docs/manifest-file.schema.json is generated from the zod schema (run `npm run schema` after changing it)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../docs/manifest-file.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(manifestJsonSchema())));
  });
});
