/** A signal that follows others; see {@link linkedSignal}. */
export interface LinkedSignal {
  signal: AbortSignal;
  /** Whether it was aborted by its own deadline (not by a source). */
  readonly timedOut: boolean;
  /** Detaches it from its sources and clears its timer: call it when the work it guarded ends. */
  dispose(): void;
}

/**
 * A signal aborted when any of `sources` aborts (with its reason), or after `timeoutMs` (with a
 * `TimeoutError`, as `AbortSignal.timeout`). The delivery loop makes one per job and one per attempt:
 * `AbortSignal.any` registers every such signal (by weak reference) in its long-lived sources, and
 * `AbortSignal.timeout` keeps its timer for the whole timeout after the attempt ended, which under
 * load held tens of megabytes for 15 s. This one is a plain controller with listeners and a timer,
 * all gone at `dispose()`.
 */
export function linkedSignal(sources: readonly AbortSignal[], timeoutMs?: number): LinkedSignal {
  const controller = new AbortController();
  let timedOut = false;
  const onAbort = (event: Event) => controller.abort((event.target as AbortSignal).reason);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const dispose = () => {
    clearTimeout(timer);
    for (const source of sources) source.removeEventListener("abort", onAbort);
  };
  const aborted = sources.find((source) => source.aborted);
  if (aborted) controller.abort(aborted.reason);
  else {
    for (const source of sources) source.addEventListener("abort", onAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException(`no answer within ${timeoutMs} ms`, "TimeoutError"));
      }, timeoutMs);
    }
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose,
  };
}
