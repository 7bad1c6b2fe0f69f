/**
 * The console's stylesheet, inlined in the page (no web fonts: the system's). Colours keep a contrast
 * of at least 4.5:1 (WCAG AA) for text, every control shows a visible focus ring, and below 40rem the
 * tables scroll sideways inside their own box rather than widening the page.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light; --ink: #111827; --muted: #4b5563; --line: #d1d5db; --accent: #1d4ed8;
  --accent-dark: #1e3a8a; --bg: #f3f4f6; --card: #ffffff; --error: #b91c1c; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  background: var(--bg); }
.top { display: flex; align-items: center; justify-content: space-between; gap: 1rem; padding: 0.75rem 1rem;
  background: var(--accent-dark); color: #ffffff; }
.top h1 { margin: 0; font-size: 1.25rem; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h2 { font-size: 1.25rem; margin: 0; }
h3 { font-size: 1.05rem; margin: 0 0 0.5rem; }
section { margin-top: 1.25rem; }
.muted { color: var(--muted); margin: 0.25rem 0; }
.error { color: var(--error); font-weight: 600; min-height: 1.5em; }
code { font-size: 0.9em; }
form { max-width: 22rem; margin: 2rem auto; padding: 1.25rem; background: var(--card); border: 1px solid var(--line);
  border-radius: 0.5rem; display: grid; gap: 0.5rem; }
label { font-weight: 600; }
input { font: inherit; padding: 0.5rem; border: 1px solid #6b7280; border-radius: 0.25rem; color: var(--ink); }
button { font: inherit; font-weight: 600; padding: 0.45rem 0.9rem; border: 2px solid var(--accent); border-radius: 0.25rem;
  background: var(--accent); color: #ffffff; cursor: pointer; }
button:hover { background: var(--accent-dark); border-color: var(--accent-dark); }
button:disabled { background: #e5e7eb; border-color: #9ca3af; color: #374151; cursor: not-allowed; }
button.secondary { background: #ffffff; color: var(--accent-dark); border-color: #ffffff; }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
/* A heading focused by the script after sign-in (so screen readers start there) is not a control. */
[tabindex="-1"]:focus-visible { outline: none; }
.section-head { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 0.5rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: 1rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 0.5rem; padding: 1rem; margin-top: 1rem; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(6.5rem, 1fr)); gap: 0.5rem; margin: 0; }
.figures dt { color: var(--muted); font-size: 0.875rem; }
.figures dd { margin: 0; font-size: 1.5rem; font-weight: 700; }
.table-wrap { overflow-x: auto; background: var(--card); border: 1px solid var(--line); border-radius: 0.5rem; }
table { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
th, td { text-align: left; padding: 0.5rem 0.6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: #e5e7eb; }
.state { font-weight: 600; }
.state-closed { color: var(--muted); }
footer { max-width: 72rem; margin: 0 auto; padding: 0 1rem 1rem; color: var(--muted); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
@media (max-width: 40rem) { .top h1 { font-size: 1.05rem; } main { padding: 0.5rem; } }
`;
