// Writes docs/manifest-file.schema.json, docs/policy.schema.json and docs/import-config.schema.json
// from their zod schemas. Run after `npm run build`: `npm run schema`. Unit tests check the files are current.
import { writeFileSync } from 'node:fs';
import { manifestJsonSchema } from '../dist/manifest-file/schema.js';
import { policyJsonSchema } from '../dist/policy/policy-file.js';
import { importConfigJsonSchema } from '../dist/manifest-file/import-config.js';

writeFileSync(new URL('../docs/manifest-file.schema.json', import.meta.url), `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
writeFileSync(new URL('../docs/policy.schema.json', import.meta.url), `${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
writeFileSync(new URL('../docs/import-config.schema.json', import.meta.url), `${JSON.stringify(importConfigJsonSchema(), null, 2)}\n`);
