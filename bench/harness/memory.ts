import { readFileSync } from 'node:fs';

const MiB = 1024;

export interface MemoryReading {
  rssMiB: number;
  /** VmHWM: the peak resident set since the process started. */
  hwmMiB: number;
}

/** VmRSS and VmHWM of a process from /proc (Linux); undefined once it has exited. */
export function readMemory(pid: number): MemoryReading | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / MiB, hwmMiB: kib('VmHWM') / MiB };
}

export interface MemoryWindow {
  /** Highest VmRSS sampled in the window. */
  peakRssMiB: number;
  /** VmRSS at the end of the window. */
  endRssMiB: number;
  /** VmHWM at the end of the window (peak since the process started). */
  hwmMiB: number;
}

/**
 * Samples a process's memory every `intervalMs` until stopped. `window()` closes the current
 * window (one run) and opens the next, so two consecutive runs can be compared.
 */
export function sampleMemory(pid: number, intervalMs = 100) {
  let peak = 0;
  let last: MemoryReading | undefined;
  const sample = () => {
    const reading = readMemory(pid);
    if (!reading) return;
    last = reading;
    peak = Math.max(peak, reading.rssMiB);
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  const window = (): MemoryWindow => {
    sample();
    const result = { peakRssMiB: round(peak), endRssMiB: round(last?.rssMiB ?? NaN), hwmMiB: round(last?.hwmMiB ?? NaN) };
    peak = last?.rssMiB ?? 0;
    return result;
  };
  return {
    window,
    stop: (): MemoryWindow => {
      const result = window();
      clearInterval(timer);
      return result;
    },
  };
}

export type MemorySampler = ReturnType<typeof sampleMemory>;

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
