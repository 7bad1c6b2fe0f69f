/**
 * How a client authenticates, as a strategy (Octokit's `auth()` plus hook). The executor asks for
 * headers before each call; on a 401 it hands back the headers it sent, so the strategy drops its
 * credential only if it is still the one that failed, then asks again once.
 */
export interface AuthStrategy {
  headers(signal?: AbortSignal): Promise<Record<string, string>>;
  invalidate(sent: Record<string, string>): void | Promise<void>;
}

/** A fixed header, e.g. RapidPro's `Authorization: Token <key>`. A 401 cannot be cured by retrying. */
export function staticAuth(headers: Record<string, string>): AuthStrategy {
  return {
    headers: async () => headers,
    invalidate: () => {},
  };
}
