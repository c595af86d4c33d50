// The one bundle entry for the workers: every workflow type is exported here.
export * from './catalog';
export * from './connectors';
export * from './housekeeping';
export * from './provisioning';
export * from './runs';
