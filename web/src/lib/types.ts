// The API's JSON shapes the store reads: the types generated from the API's
// /openapi.json (`npm run api:types` writes ./api/schema.d.ts; a unit test
// fails when it is stale), so the store cannot drift from the API.
import type { components } from './api/schema';

type Schemas = components['schemas'];

export type Plan = Schemas['Plan'];
export type Offering = Schemas['Offering'];
export type ApiKeyScope = Schemas['ApiKey']['scopes'][number];

// An order's `progress` is the provisioning workflow's query answer, which the OpenAPI document leaves open
// (it is the workflow's, not the API's); the store reads these fields of it.
export interface StepError {
  type: string;
  message: string;
}

export interface OrderStep {
  name: string;
  status: string;
  attempts: number;
  startedAt: string;
  finishedAt?: string;
  error?: StepError;
}

export type RefundDecision = 'refund_unspent' | 'refund_all' | 'keep';

/** A cancel that could not take everything back, waiting for support (money in minor units, credits in millicredits). */
export interface UnwindReport {
  currency: string;
  totalMinor: number;
  failed: { compensation: string; lines: number[]; error: StepError }[];
  takenBack: string[];
  lines: { line: number; kind: 'credit_pack' | 'plan'; totalMinor: number; grantedMc?: number; unspentMc?: number; takenBack: boolean }[];
  refundUnspentMinor: number;
  refundAllMinor: number;
}

export interface RefundOutcome {
  decision: RefundDecision | 'full';
  by?: string;
  refundedMinor: number;
  creditsTakenBackMc: number;
  creditsWrittenOffMc: number;
}

export type Order = Omit<Schemas['Order'], 'progress'> & {
  progress: {
    status: string; steps: OrderStep[]; currentStep?: string; lastError?: StepError & { step: string };
    unwind?: UnwindReport; refund?: RefundOutcome;
  } | null;
};
