// Saleor contract constants that api, activities, workflows and the sandbox
// share instead of repeating strings.

/** `Saleor-Event` header values (Saleor sends the lower-case event name). */
export const SALEOR_EVENTS = {
  orderFullyPaid: 'order_fully_paid',
} as const;
export type SaleorEventName = (typeof SALEOR_EVENTS)[keyof typeof SALEOR_EVENTS];

/** Metadata keys CMP writes on checkouts (copied to orders by checkoutComplete) and orders. */
export const SALEOR_METADATA_KEYS = {
  orgId: 'cmp_org_id',
  status: 'cmp_status',
  workflowId: 'cmp_workflow_id',
} as const;

/** Order charge statuses that mean "paid in full". */
export const PAID_CHARGE_STATUSES = ['FULL', 'OVERCHARGED'] as const;
