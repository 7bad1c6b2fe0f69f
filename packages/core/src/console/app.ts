/**
 * The operator console's browser code (PROTOCOL.md "Console"), run in the page `console/` serves.
 *
 * Type-checked with the core (the DOM library is in tsconfig.base.json); bundled by esbuild into
 * script.generated.ts (`npm run build:console`, checked fresh by test/console/bundle.test.ts), which
 * page.ts inlines. It speaks only to the admin API (`token/`, `ready`, `admin/…`), renders with
 * `textContent` (never HTML from data), and keeps the token in `sessionStorage`: gone when the tab
 * closes.
 */
export function runConsole(): void {
  const POLL_MS = 3000;
  const TOKEN_KEY = "openchs-bridge-console-token";
  const STATES = ["requested", "hunting", "connected", "closed"] as const;
  const STATUSES = ["accepted", "sent", "delivered", "read", "failed"] as const;

  interface DeadLetterRow {
    id: number;
    conversation_id: string;
    message_id: string | null;
    kind: string;
    target: string;
    attempts: number;
    last_error: { code: string; status: number | null };
    failed_at: string;
  }
  interface ConversationRow {
    conversation_id: string;
    state: string;
    helpline: string;
    counselor_name: string | null;
    last_activity_at: string;
    messages: Record<string, number>;
  }
  interface Overview {
    conversations: Record<string, number>;
    outbox_pending: number;
    oldest_pending_age_s: number;
    dead_letters: number;
  }

  const base = document.documentElement.dataset.base ?? "/";
  const byId = <T extends HTMLElement>(id: string): T => {
    const element = document.getElementById(id);
    if (!element) throw new Error(`console: #${id} is missing`);
    return element as T;
  };
  const signIn = byId<HTMLFormElement>("sign-in");
  const signInError = byId("sign-in-error");
  const dashboard = byId("dashboard");
  const signOut = byId<HTMLButtonElement>("sign-out");
  const status = byId("status");
  const replayAll = byId<HTMLButtonElement>("replay-all");
  let timer: ReturnType<typeof setTimeout> | undefined;

  class HttpError extends Error {
    readonly status: number;
    constructor(status: number) {
      super(`HTTP ${status}`);
      this.status = status;
    }
  }

  const token = () => sessionStorage.getItem(TOKEN_KEY);

  async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    const current = token();
    if (current) headers.authorization = `Bearer ${current}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(base + path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      cache: "no-store",
    });
    if (!response.ok && !(path === "ready" && response.status === 503)) throw new HttpError(response.status);
    return (await response.json()) as T;
  }

  function el(tag: string, text?: string, className?: string): HTMLElement {
    const element = document.createElement(tag);
    if (text !== undefined) element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function age(seconds: number): string {
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  }

  function since(iso: string): HTMLElement {
    const time = el("time", `${age(Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)))} ago`);
    time.setAttribute("datetime", iso);
    time.title = iso;
    return time;
  }

  function say(message: string): void {
    status.textContent = message;
  }

  function showSignedIn(signedIn: boolean): void {
    signIn.hidden = signedIn;
    dashboard.hidden = !signedIn;
    signOut.hidden = !signedIn;
  }

  function renderOverview(overview: Overview, ready: { status: string }): void {
    for (const state of STATES) byId(`count-${state}`).textContent = String(overview.conversations[state] ?? 0);
    byId("outbox-pending").textContent = String(overview.outbox_pending);
    byId("oldest-pending").textContent = overview.outbox_pending === 0 ? "none" : age(overview.oldest_pending_age_s);
    byId("dead-letter-count").textContent = String(overview.dead_letters);
    byId("bridge-status").textContent = ready.status;
  }

  function renderDeadLetters(rows: DeadLetterRow[]): void {
    const body = byId("dead-letters-body");
    body.replaceChildren();
    byId("dead-letters-empty").hidden = rows.length > 0;
    byId("dead-letters-table").hidden = rows.length === 0;
    replayAll.disabled = rows.length === 0;
    for (const row of rows) {
      const tr = el("tr");
      tr.dataset.id = String(row.id);
      const error =
        row.last_error.status === null ? row.last_error.code : `${row.last_error.code} (${row.last_error.status})`;
      for (const text of [String(row.id), row.conversation_id, row.kind, row.target, String(row.attempts), error]) {
        tr.append(el("td", text));
      }
      const failed = el("td");
      failed.append(since(row.failed_at));
      const action = el("td");
      const button = el("button", "Replay") as HTMLButtonElement;
      button.type = "button";
      button.setAttribute("aria-label", `Replay dead letter ${row.id} of conversation ${row.conversation_id}`);
      button.addEventListener("click", () => void replay(button, row.id));
      action.append(button);
      tr.append(failed, action);
      body.append(tr);
    }
  }

  function renderConversations(rows: ConversationRow[]): void {
    const body = byId("conversations-body");
    body.replaceChildren();
    byId("conversations-empty").hidden = rows.length > 0;
    byId("conversations-table").hidden = rows.length === 0;
    for (const row of rows) {
      const tr = el("tr");
      tr.append(el("td", row.conversation_id), el("td", row.state, `state state-${row.state}`));
      tr.append(el("td", row.helpline), el("td", row.counselor_name ?? "—"));
      const last = el("td");
      last.append(since(row.last_activity_at));
      const counts = el("td");
      const parts = STATUSES.filter((s) => (row.messages[s] ?? 0) > 0).map((s) => `${s} ${row.messages[s]}`);
      counts.textContent = parts.length ? parts.join(", ") : "none";
      tr.append(last, counts);
      body.append(tr);
    }
  }

  async function refresh(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (!token()) return;
    try {
      const [overview, ready, deadLetters, conversations] = await Promise.all([
        call<Overview>("GET", "admin/overview"),
        call<{ status: string }>("GET", "ready"),
        call<{ results: DeadLetterRow[] }>("GET", "admin/dead-letters?limit=100"),
        call<{ results: ConversationRow[] }>("GET", "admin/conversations?limit=20"),
      ]);
      renderOverview(overview, ready);
      renderDeadLetters(deadLetters.results);
      renderConversations(conversations.results);
      byId("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
        sessionStorage.removeItem(TOKEN_KEY);
        showSignedIn(false);
        signInError.textContent =
          error.status === 403 ? "This consumer is not an operator (admin)." : "Signed out: the token expired.";
        return;
      }
      byId("updated").textContent = "The bridge does not answer; retrying.";
    }
    timer = setTimeout(() => void refresh(), POLL_MS);
  }

  async function replay(button: HTMLButtonElement, id: number): Promise<void> {
    button.disabled = true;
    try {
      await call("POST", `admin/dead-letters/${id}/replay`);
      say(`Dead letter ${id} queued again.`);
    } catch (error) {
      say(`Dead letter ${id} was not replayed (${error instanceof HttpError ? error.status : "no answer"}).`);
      button.disabled = false;
    }
    await refresh();
  }

  signIn.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(signIn);
    signInError.textContent = "";
    void (async () => {
      try {
        const answer = await call<{ token: string }>("POST", "token/", {
          username: String(data.get("username") ?? ""),
          password: String(data.get("password") ?? ""),
        });
        sessionStorage.setItem(TOKEN_KEY, answer.token);
        signIn.reset();
        showSignedIn(true);
        say("Signed in.");
        byId("dashboard-title").focus();
        await refresh();
      } catch (error) {
        const code = error instanceof HttpError ? error.status : 0;
        signInError.textContent =
          code === 401
            ? "Wrong username or password."
            : code === 429
              ? "Too many attempts: wait a minute."
              : "The bridge does not answer.";
      }
    })();
  });

  signOut.addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    if (timer !== undefined) clearTimeout(timer);
    showSignedIn(false);
    say("Signed out.");
    byId<HTMLInputElement>("username").focus();
  });

  replayAll.addEventListener("click", () => {
    replayAll.disabled = true;
    void (async () => {
      try {
        const answer = await call<{ replayed: number }>("POST", "admin/dead-letters/replay", {});
        say(`${answer.replayed} dead letter${answer.replayed === 1 ? "" : "s"} queued again.`);
      } catch (error) {
        say(`Nothing was replayed (${error instanceof HttpError ? error.status : "no answer"}).`);
      }
      await refresh();
    })();
  });

  showSignedIn(token() !== null);
  void refresh();
}
