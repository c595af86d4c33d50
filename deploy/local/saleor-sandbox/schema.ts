// The sandbox's own SDL (schema.graphql beside this file): the subset of
// Saleor's real schema it serves, cut out of Saleor 3.23's schema by
// test/support/saleor-schema-subset.ts and checked against it by
// test/unit/saleor-sandbox-schema.test.ts. The sandbox reads nothing else.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, type GraphQLSchema } from 'graphql';

export const sandboxSchemaPath = path.join(path.dirname(fileURLToPath(import.meta.url)), 'schema.graphql');

export function loadSandboxSchema(file = sandboxSchemaPath): GraphQLSchema {
  return buildSchema(fs.readFileSync(file, 'utf8'));
}
