import { sha256 } from "@noble/hashes/sha2";
import { utf8ToBytes } from "@noble/hashes/utils";
import { CONSOLE_SCRIPT } from "./script.generated";
import { CONSOLE_CSS } from "./style";

/*
 * `GET {base}console/`: the operator console, one page with everything inline (helplines run it
 * offline: no CDN, no web fonts, no other request than the admin API). The markup holds no data:
 * the script signs in and fills it. The Content-Security-Policy allows exactly this page's inline
 * script and style (by their SHA-256) and requests to the bridge itself; nothing else.
 */

/** The script: app.ts bundled by `npm run build:console` (a string, so the core needs no bundler). */
const SCRIPT = CONSOLE_SCRIPT;

const STATE_FIGURES = ["requested", "hunting", "connected", "closed"]
  .map((s) => `<div><dt>${s}</dt><dd id="count-${s}">–</dd></div>`)
  .join("");

/** The page's markup; `{{BASE}}` is the bridge's base path (an attribute value, escaped). */
const MARKUP = `<header class="top">
<h1>openchs-bridge console</h1>
<button id="sign-out" type="button" class="secondary" hidden>Sign out</button>
</header>
<main>
<form id="sign-in" aria-labelledby="sign-in-title" novalidate>
<h2 id="sign-in-title">Sign in</h2>
<p class="muted">With an operator consumer (<code>"admin": true</code> in <code>BRIDGE_CONSUMERS</code>).</p>
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
<p id="sign-in-error" class="error" role="alert"></p>
</form>
<div id="dashboard" hidden>
<div class="section-head">
<h2 id="dashboard-title" tabindex="-1">Bridge <span id="bridge-status">–</span></h2>
<p id="updated" class="muted"></p>
</div>
<div class="cards">
<section aria-labelledby="conversations-title" class="card">
<h3 id="conversations-title">Conversations by state</h3>
<dl class="figures">${STATE_FIGURES}</dl>
</section>
<section aria-labelledby="outbox-title" class="card">
<h3 id="outbox-title">Outbox</h3>
<dl class="figures">
<div><dt>pending</dt><dd id="outbox-pending">–</dd></div>
<div><dt>oldest pending</dt><dd id="oldest-pending">–</dd></div>
<div><dt>dead letters</dt><dd id="dead-letter-count">–</dd></div>
</dl>
</section>
</div>
<section aria-labelledby="dead-letters-title">
<div class="section-head">
<h3 id="dead-letters-title">Dead letters</h3>
<button id="replay-all" type="button" disabled>Replay all</button>
</div>
<p id="dead-letters-empty" class="muted">No dead letters.</p>
<div class="table-wrap">
<table id="dead-letters-table" hidden>
<thead><tr><th scope="col">Id</th><th scope="col">Conversation</th><th scope="col">Kind</th><th scope="col">Target</th>
<th scope="col">Attempts</th><th scope="col">Last error</th><th scope="col">Failed</th>
<th scope="col"><span class="visually-hidden">Action</span></th></tr></thead>
<tbody id="dead-letters-body"></tbody>
</table>
</div>
</section>
<section aria-labelledby="recent-title">
<h3 id="recent-title">Recent conversations</h3>
<p id="conversations-empty" class="muted">No conversations yet.</p>
<div class="table-wrap">
<table id="conversations-table" hidden>
<thead><tr><th scope="col">Conversation</th><th scope="col">State</th><th scope="col">Helpline</th>
<th scope="col">Counselor</th><th scope="col">Last activity</th><th scope="col">Messages</th></tr></thead>
<tbody id="conversations-body"></tbody>
</table>
</div>
</section>
</div>
</main>
<footer><p id="status" role="status"></p></footer>`;

/** `'sha256-…'` of a text, as a CSP source. */
function cspHash(text: string): string {
  let binary = "";
  for (const byte of sha256(utf8ToBytes(text))) binary += String.fromCharCode(byte);
  return `'sha256-${btoa(binary)}'`;
}

const POLICY = [
  "default-src 'none'",
  `script-src ${cspHash(SCRIPT)}`,
  `style-src ${cspHash(CONSOLE_CSS)}`,
  "connect-src 'self'",
  "img-src data:",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

const escapeAttribute = (value: string) =>
  value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

/** The console page for a bridge mounted at `basePath` (leading and trailing slash). */
export function consolePage(basePath: string): Response {
  const html = `<!doctype html>
<html lang="en" data-base="${escapeAttribute(basePath)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>openchs-bridge console</title>
<link rel="icon" href="data:,">
<style>${CONSOLE_CSS}</style>
</head>
<body>
${MARKUP}
<script>${SCRIPT}</script>
</body>
</html>
`;
  return new Response(html, {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    },
  });
}
