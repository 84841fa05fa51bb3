// Writes docs/manifest-file.schema.json from the zod schema (src/manifest-file/schema.ts).
// Run after `npm run build`: `npm run schema`. A unit test checks the file is current.
import { writeFileSync } from 'node:fs';
import { manifestJsonSchema } from '../dist/manifest-file/schema.js';

writeFileSync(new URL('../docs/manifest-file.schema.json', import.meta.url), `${JSON.stringify(manifestJsonSchema(), null, 2)}\n`);
