// Writes docs/manifest-file.schema.json and docs/policy.schema.json from their zod schemas.
// Run after `npm run build`: `npm run schema`. A unit test checks the file is current.
import { writeFileSync } from 'node:fs';
import { manifestJsonSchema } from '../dist/manifest-file/schema.js';
import { policyJsonSchema } from '../dist/policy/policy-file.js';

writeFileSync(new URL('../docs/manifest-file.schema.json', import.meta.url), `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
writeFileSync(new URL('../docs/policy.schema.json', import.meta.url), `${JSON.stringify(policyJsonSchema(), null, 2)}\n`);
