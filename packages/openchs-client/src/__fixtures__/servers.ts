import { HttpResponse, http } from "msw";

/** Test fixtures: fake OpenCHS servers for msw. Not part of the published package. */

export const HELPLINE = "https://helpline.test/helpline/api/";
export const GATEWAY_ORIGIN = "https://gateway.test";

export const HELPLINE_USER = "counsel-bot";
export const HELPLINE_PASSWORD = "hunter2-pass-SECRET";

/** Fast, deterministic retries for tests that do not use fake timers. */
export const FAST_RETRY = { minDelayMs: 1, maxDelayMs: 4, jitter: false } as const;

export function basicOf(user: string, password: string): string {
  return `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;
}

/** A fake helpline login: HTTP Basic at the API root → a new session each time. */
export function helplineLogin(state: { logins: number; sessions: string[] }, options: { delayMs?: number } = {}) {
  return http.post(HELPLINE, async ({ request }) => {
    state.logins++;
    if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
    if (request.headers.get("authorization") !== basicOf(HELPLINE_USER, HELPLINE_PASSWORD)) {
      return HttpResponse.json({ errors: [["error", "Invalid login", "", "", "", "", ""]] }, { status: 412 });
    }
    const session = `sess-SECRET-${state.logins}`;
    state.sessions.push(session);
    return HttpResponse.json({ ss: [[session, "7", HELPLINE_USER, "2", "99"]], auth: [] });
  });
}

/** The session id a helpline request carries, or undefined. */
export function bearerOf(request: Request): string | undefined {
  const value = request.headers.get("authorization");
  return value?.startsWith("Bearer ") ? value.slice(7) : undefined;
}
