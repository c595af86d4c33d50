// The team's contracts beside the repository (../shared: Saleor's real schema).
// Only tests read them; the product never does. A clone without them (a user's
// clone) gets a message naming the file and why, not an ENOENT deep in a test.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSchema, type GraphQLSchema } from 'graphql';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The path of a file under ../shared, or an error saying what is missing and why the test needs it. */
export function sharedContract(relative: string, why: string): string {
  const file = path.resolve(repoRoot, '../shared', relative);
  if (!fs.existsSync(file)) {
    throw new Error(
      `missing ${file}: ${why}. The team's contracts live in ../shared beside the repository (CI checks it out there); ` +
        'clone it beside this repository to run this test.',
    );
  }
  return file;
}

/** Saleor 3.23's real schema; its SDL is Saleor's own, so its validation is skipped (about 1 s for the 1 MB file). */
export function realSaleorSchema(why: string): GraphQLSchema {
  const file = sharedContract('contracts/saleor/schema.graphql', why);
  return buildSchema(fs.readFileSync(file, 'utf8'), { assumeValidSDL: true });
}
