export * from './contract';
export * from './job-options';
export * from './connections';
export * from './event-queue';
