export * from './contract';
export * from './job-options';
export * from './redis-config';
export * from './redis-connection';
export * from './writable-primary';
export * from './wait-for-replicas';
export * from './event-queue';
