import { loadEnv } from '@billing/runtime/env';
import { envErrorMessage } from '@billing/testing/env-error';
import { describe, expect, it } from 'vitest';
import { dashboardEnvShape } from './env';

const load = (source: Record<string, string>) => loadEnv(dashboardEnvShape, source);
const message = (source: Record<string, string>) => envErrorMessage(() => load(source));

describe('dashboard env', () => {
  it('applies the documented defaults', () => {
    expect(load({})).toMatchObject({
      DASHBOARD_PORT: 3001,
      DASHBOARD_HOST: '127.0.0.1',
      DASHBOARD_USER: 'admin',
      DASHBOARD_LOGIN_MAX_FAILURES: 10,
      DASHBOARD_LOGIN_WINDOW_SECONDS: 900,
    });
    expect(load({}).DASHBOARD_PASSWORD).toBeUndefined();
  });

  it.each([
    ['12 characters', 'abcdefghijkl'],
    ['spaces inside, kept as given', ' correct horse '],
  ])('accepts a password of %s', (_label, password) => {
    expect(load({ DASHBOARD_PASSWORD: password }).DASHBOARD_PASSWORD).toBe(password);
  });

  it.each([
    ['an 11-character password', { DASHBOARD_PASSWORD: 'abcdefghijk' }, 'DASHBOARD_PASSWORD must be at least 12 characters long'],
    ['a one-character password', { DASHBOARD_PASSWORD: 'a' }, 'DASHBOARD_PASSWORD must be at least 12 characters long'],
    ['a user with ":"', { DASHBOARD_USER: 'a:b' }, 'DASHBOARD_USER must be'],
    ['no failures allowed', { DASHBOARD_LOGIN_MAX_FAILURES: '0' }, 'DASHBOARD_LOGIN_MAX_FAILURES must be at least 1'],
    ['a window in words', { DASHBOARD_LOGIN_WINDOW_SECONDS: 'an hour' }, 'DASHBOARD_LOGIN_WINDOW_SECONDS must be a number'],
  ])('refuses %s with one line naming the variable', (_label, source: Record<string, string>, expected) => {
    const text = message(source);
    expect(text).toContain(expected);
    expect(text.split('\n')).toHaveLength(1);
    if (source.DASHBOARD_PASSWORD) expect(text).not.toContain('(got'); // the value is never echoed
  });
});
