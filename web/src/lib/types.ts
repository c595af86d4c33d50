// The API's JSON shapes the store reads (see the API's /openapi.json).
export interface Plan {
  id: string;
  code: string;
  name: string;
  price_cents: number;
  currency: string;
  monthly_credits_mc: number;
  price_per_run_mc: number;
  price_per_1k_tokens_mc: number;
  rate_limit_per_minute: number;
  purchasable: boolean;
}

export interface Version {
  id: string;
  version: string;
  changelog: string;
  status: string;
  published_at: string | null;
  created_at: string;
}

export interface Offering {
  id: string;
  slug: string;
  name: string;
  summary: string;
  description: string;
  category: string;
  publisher: string;
  demo_enabled: boolean;
  featured: boolean;
  example_inputs: string[];
  latest_version: string | null;
  runs_served: number;
  plans: Plan[];
}

export interface OfferingDetail extends Offering {
  versions: Version[];
}

export interface CreditPack {
  id: string;
  code: string;
  name: string;
  credits_mc: number;
  price_cents: number;
  currency: string;
  purchasable: boolean;
}

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

export interface Order {
  order_id: string;
  kind: 'paid' | 'free';
  status: string;
  org_id: string | null;
  workflow_id: string;
  current_step: string | null;
  last_error: unknown;
  total_cents: number | null;
  currency: string | null;
  created_at: string;
  provisioned_at: string | null;
  instances: { id: string; status: string; offering_slug: string; plan_code: string }[];
  progress: {
    status: string; steps: OrderStep[]; currentStep?: string; lastError?: StepError & { step: string };
    unwind?: UnwindReport; refund?: RefundOutcome;
  } | null;
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

export interface Instance {
  id: string;
  offering_slug: string;
  offering_name: string;
  version: string;
  plan_code: string;
  status: string;
  order_id: string | null;
  last_error: unknown;
  created_at: string;
  activated_at: string | null;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  /** runs: call agents; usage:read: read GET /v1/balance and GET /v1/usage. */
  scopes: string[];
  instance_id: string | null;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}
