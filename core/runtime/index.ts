export * from './agent-runtime';
export { LangflowRuntime, langflowOptionsFromConfig, parseRunResponse, flowFingerprint, flowIdFor, type LangflowRuntimeOptions } from './langflow-runtime';
export { createVersionFlows, type VersionFlow } from './version-flows';
