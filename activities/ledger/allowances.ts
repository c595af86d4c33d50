// The monthly allowance sweep's activity: grants one page of the allowances
// due for a month (see core/instances/allowances.ts). Each grant is an
// idempotent ledger transfer, so a retried page grants nothing twice.
import type { Db } from '../../core/db';
import { allowancesDue, grantAllowances } from '../../core/instances/allowances';
import type { Ledger } from '../../core/ledger';

const PAGE = 200;

export function createAllowanceActivities(deps: { db: Db; ledger: Ledger }) {
  return {
    /** Grants up to one page of allowances due for `period` after `afterId`; says where the next page starts. */
    async grantAllowancesDue(input: { period: string; afterId: string | null }): Promise<{ granted: number; nextAfterId: string | null }> {
      const due = await allowancesDue(deps.db, input.period, { afterId: input.afterId, limit: PAGE });
      await grantAllowances(deps.ledger, due, input.period);
      return { granted: due.length, nextAfterId: due.length === PAGE ? due.at(-1)!.instanceId : null };
    },
  };
}

export type AllowanceActivities = ReturnType<typeof createAllowanceActivities>;
