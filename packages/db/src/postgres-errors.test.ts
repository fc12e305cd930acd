import { describe, expect, it } from 'vitest';
import { isConnectionError, postgresFailure } from './postgres-errors';

const withCode = (code: unknown) => Object.assign(new Error('x'), { code });

describe('postgresFailure', () => {
  it.each([
    // No connection, or it was lost.
    ['08006', 'unreachable'],
    ['08001', 'unreachable'],
    ['57P01', 'unreachable'],
    ['57P02', 'unreachable'],
    ['57P03', 'unreachable'],
    ['CONNECT_TIMEOUT', 'unreachable'],
    ['CONNECTION_CLOSED', 'unreachable'],
    ['CONNECTION_ENDED', 'unreachable'],
    ['CONNECTION_DESTROYED', 'unreachable'],
    ['ECONNREFUSED', 'unreachable'],
    ['ECONNRESET', 'unreachable'],
    ['ETIMEDOUT', 'unreachable'],
    ['ENOTFOUND', 'unreachable'],
    ['EAI_AGAIN', 'unreachable'],
    // The server answers but will not serve us.
    ['28P01', 'refused'],
    ['28000', 'refused'],
    ['3D000', 'refused'],
    ['53300', 'refused'],
    ['SASL_SIGNATURE_MISMATCH', 'refused'],
    // The statement or its data.
    ['23505', 'statement'],
    ['22003', 'statement'],
    ['40001', 'statement'],
    ['40P01', 'statement'],
    ['40003', 'statement'],
    ['57014', 'statement'],
    ['P0001', 'statement'],
    ['UNDEFINED_VALUE', 'statement'],
    ['ERR_INVALID_ARG_TYPE', 'statement'],
  ])('%s → %s', (code, expected) => {
    expect(postgresFailure(withCode(code))).toBe(expected);
    expect(isConnectionError(withCode(code))).toBe(expected !== 'statement');
  });

  it.each([[new Error('no code')], [null], [undefined], ['text'], [withCode(42)]])('%o without a string code → statement', (error) => {
    expect(postgresFailure(error)).toBe('statement');
  });
});
