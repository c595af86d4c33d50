// The catalog context's contract: the workflow that checks a new version
// before it may be published, its id, and the names of its checks. The API,
// the activities and the console import these instead of repeating strings.

/** One check round per version at a time; re-running the checks starts a new round under the same id. */
export const versionChecksWorkflowId = (versionId: string) => `version-checks-${versionId}`;

/** Catalog syncs to Saleor: one workflow per change, so a sync started after an edit always sees that edit. */
export const catalogSyncRunId = (scope: string, at: number) => `catalog-sync-${scope.replace(':', '-')}-${at}`;

export const CHECK = {
  /** The upload parsed as a Langflow export, within the size limit, with only allowed components (done by the API). */
  validation: 'validation',
  /** The object in S3 read back and its sha256 matched. */
  stored: 'stored',
  /** The flow registered on the runtime (Langflow). */
  registered: 'registered',
  /** The offering has example inputs to run. */
  examples: 'examples',
  example: (index: number) => `example ${index + 1}`,
} as const;

export interface CheckVersionInput {
  versionId: string;
  /** Each example run's deadline (the API passes VERSION_CHECK_RUN_TIMEOUT_MS). */
  runTimeoutMs: number;
}
