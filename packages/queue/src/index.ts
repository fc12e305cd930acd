export * from './contract';
export * from './job-options';
export * from './redis-config';
export * from './redis-connection';
export * from './writable-primary';
export * from './wait-for-replicas';
export * from './replica-ack-group';
export * from './event-queue';
