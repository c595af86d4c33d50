// Saleor's real GraphQL schema (read-only contract beside the repository).
// The documents test and the Saleor sandbox both build from it, so neither
// can drift from what Saleor 3.23 serves.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, type GraphQLSchema } from 'graphql';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function saleorSchemaPath(env: Record<string, string | undefined> = process.env): string {
  return env.SALEOR_SCHEMA_PATH ?? path.resolve(repoRoot, '../shared/contracts/saleor/schema.graphql');
}

/** Builds the schema (about 1 s for the 1 MB SDL); the SDL is Saleor's own, so its validation is skipped. */
export function loadSaleorSchema(file = saleorSchemaPath()): GraphQLSchema {
  return buildSchema(fs.readFileSync(file, 'utf8'), { assumeValidSDL: true });
}
