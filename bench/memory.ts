/** Peak memory of this process, sampled every `everyMs` (process.memoryUsage) while a task runs. */
export interface MemoryPeak {
  /** Resident set size when sampling started, bytes. */
  rssStart: number;
  /** Highest sampled resident set size, bytes. */
  rssPeak: number;
  heapUsedStart: number;
  heapUsedPeak: number;
}

export async function sampleMemory<T>(
  fn: () => Promise<T>,
  everyMs = 50,
): Promise<{ result: T; memory: MemoryPeak }> {
  const first = process.memoryUsage();
  const memory: MemoryPeak = {
    rssStart: first.rss,
    rssPeak: first.rss,
    heapUsedStart: first.heapUsed,
    heapUsedPeak: first.heapUsed,
  };
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > memory.rssPeak) memory.rssPeak = m.rss;
    if (m.heapUsed > memory.heapUsedPeak) memory.heapUsedPeak = m.heapUsed;
  };
  const timer = setInterval(sample, everyMs);
  try {
    const result = await fn();
    sample();
    return { result, memory };
  } finally {
    clearInterval(timer);
  }
}

export const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
