// `npm run migrate` (latest) and `tsx core/db/migrate-cli.ts rollback-all`.
import { loadConfig } from '../config';
import { createDb } from './index';

const command = process.argv[2] ?? 'latest';
const config = loadConfig();
const db = createDb(config.DATABASE_URL, 2);
try {
  if (command === 'latest') {
    const [, applied] = await db.migrate.latest();
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
  } else if (command === 'rollback-all') {
    const [, undone] = await db.migrate.rollback(undefined, true);
    console.log(`rolled back: ${undone.join(', ') || 'nothing'}`);
  } else {
    throw new Error(`unknown command ${command} (latest | rollback-all)`);
  }
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  await db.destroy();
}
