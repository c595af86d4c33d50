// The store's API types are generated from /openapi.json: regenerate them
// here and compare, so a route whose shape changed without `npm run
// api:types` fails the tests instead of the store at run time.
import fs from 'node:fs';
import { expect, it } from 'vitest';
import { API_TYPES_FILE, apiTypes } from '../../deploy/local/api-types';

it('web/src/lib/api/schema.d.ts matches the API as it is (run `npm run api:types` when this fails)', async () => {
  const committed = fs.readFileSync(API_TYPES_FILE, 'utf8');
  expect(committed === (await apiTypes()), 'web/src/lib/api/schema.d.ts is stale: run `npm run api:types`').toBe(true);
}, 30_000);
