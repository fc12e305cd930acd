export * from './notification';
export * from './verify-notification';
export * from './get-access';
