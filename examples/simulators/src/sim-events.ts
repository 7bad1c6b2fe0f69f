import { EventEmitter } from "eventemitter3";

/** A typed eventemitter3 over one event map: `events.on("message.stored", (e) => …)` is fully typed. */
export type SimEvents<M extends object> = EventEmitter<{ [K in keyof M & string]: (payload: M[K]) => void }>;

/** A listener of every event: its name and payload, in the order they happen. */
export type AnyListener<M extends object> = <K extends keyof M & string>(type: K, payload: M[K]) => void;

/** Events plus the helpers every simulator exposes. */
export interface SimEventHub<M extends object> {
  events: SimEvents<M>;
  emit<K extends keyof M & string>(type: K, payload: M[K]): void;
  /** Listens to every event (a live transcript); returns a function that stops listening. */
  onAny(listener: AnyListener<M>): () => void;
  /**
   * Resolves with the next `type` event whose payload passes `predicate`, or rejects after
   * `timeoutMs` (default 5000) with an error naming the event.
   */
  waitFor<K extends keyof M & string>(
    type: K,
    predicate?: ((payload: M[K]) => boolean) | undefined,
    timeoutMs?: number | undefined,
  ): Promise<M[K]>;
}

/** Creates the event hub of one simulator. */
export function createEventHub<M extends object>(who: string): SimEventHub<M> {
  const events = new EventEmitter() as SimEvents<M>;
  const any = new Set<AnyListener<M>>();
  const loose = events as unknown as EventEmitter<string>;
  return {
    events,
    emit(type, payload) {
      loose.emit(type, payload);
      for (const listener of any) listener(type, payload);
    },
    onAny(listener) {
      any.add(listener);
      return () => {
        any.delete(listener);
      };
    },
    waitFor(type, predicate, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const listener = (payload: unknown) => {
          if (predicate && !predicate(payload as never)) return;
          clearTimeout(timer);
          loose.off(type, listener);
          resolve(payload as never);
        };
        const timer = setTimeout(() => {
          loose.off(type, listener);
          reject(new Error(`${who}: no "${type}" event within ${timeoutMs} ms`));
        }, timeoutMs);
        loose.on(type, listener);
      });
    },
  };
}
