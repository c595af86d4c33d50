export * from './artifact-store';
export { S3ArtifactStore, s3OptionsFromConfig, type S3ArtifactStoreOptions } from './s3-artifact-store';
export { ByteLruCache } from './lru-cache';
export { validateFlow, type FlowValidation } from './validate-flow';
export { DEFAULT_ALLOWED_COMPONENTS, allowedComponents, componentProblems } from './allowed-components';
