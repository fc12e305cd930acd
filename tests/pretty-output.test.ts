import type { Command, Logger } from 'concurrently';
import { describe, expect, it } from 'vitest';
import { PrettyOutput } from '../scripts/lib/pretty-output';

/** A command whose output this test writes, and a logger that records what start would print. */
function fixture() {
  const listeners = { stdout: [] as Array<(chunk: Buffer) => void>, stderr: [] as Array<(chunk: Buffer) => void> };
  const stream = (name: keyof typeof listeners) => ({
    subscribe: (listener: (chunk: Buffer) => void) => void listeners[name].push(listener),
  });
  const command = { name: 'worker', stdout: stream('stdout'), stderr: stream('stderr') } as unknown as Command;
  const printed: string[] = [];
  const logger = { logCommandText: (text: string) => void printed.push(text) } as unknown as Logger;
  new PrettyOutput({ logger }).handle([command]);
  const write = (name: keyof typeof listeners, text: string) => listeners[name].forEach((listener) => listener(Buffer.from(text)));
  // eslint-disable-next-line no-control-regex
  const plain = () => printed.join('').replace(/\x1b\[[0-9;]*m/g, '');
  return { write, plain };
}

describe('PrettyOutput (npm start at a terminal)', () => {
  it('shows a JSON log line as time, level, message and fields on one line', () => {
    const { write, plain } = fixture();
    write(
      'stdout',
      `${JSON.stringify({ level: 30, time: Date.parse('2026-12-01T10:00:00Z'), pid: 1, hostname: 'h', app: 'worker', msg: 'worker ready', concurrency: 100 })}\n`,
    );
    expect(plain()).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: worker ready \{"concurrency":100\}\n$/);
    expect(plain()).not.toContain('hostname');
  });

  it('joins a line split across chunks, and passes other lines through as they are', () => {
    const { write, plain } = fixture();
    const line = JSON.stringify({ level: 50, time: 0, msg: 'event failed', eventId: 'evt_1' });
    write('stderr', line.slice(0, 10));
    expect(plain()).toBe('');
    write('stderr', `${line.slice(10)}\nnot json at all\n{broken\n`);
    expect(plain().split('\n')).toEqual([
      expect.stringMatching(/ERROR: event failed \{"eventId":"evt_1"\}$/),
      'not json at all',
      '{broken',
      '',
    ]);
  });
});
