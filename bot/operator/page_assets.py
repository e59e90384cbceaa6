"""The optimization page's style sheet and the script that refreshes its content while
the tab is visible: static text, apart from the page's HTML (page.py)."""

from __future__ import annotations

REFRESH_SECONDS = 60

STYLE = """
:root { --ink:#1d2433; --muted:#5b6478; --line:#e3e6ee; --bg:#f6f7fb; --card:#fff;
  --ok:#1f8a4c; --warn:#b7791f; --bad:#c53030; --accent:#3558d6; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
header { background:#1d2433; color:#fff; padding:14px 28px; display:flex;
  align-items:baseline; gap:18px; flex-wrap:wrap; }
header h1 { font-size:19px; margin:0; font-weight:600; }
header .period { color:#c9d1e4; font-size:13px; }
header nav { margin-left:auto; font-size:13px; }
header nav a { color:#c9d1e4; text-decoration:none; padding:4px 10px; border-radius:12px; }
header nav a.on { background:#3a4560; color:#fff; }
main { max-width:1180px; margin:0 auto; padding:20px 28px 40px; }
.summary { font-size:16px; margin:0 0 16px; }
.cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(170px,1fr)); gap:12px;
  margin-bottom:18px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:12px 14px; }
.card .label { color:var(--muted); font-size:12px; text-transform:uppercase;
  letter-spacing:.04em; }
.card .value { font-size:24px; font-weight:600; margin-top:2px; }
.card .sub { color:var(--muted); font-size:12px; }
section { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:14px 18px; margin-bottom:16px; }
section h2 { font-size:15px; margin:0 0 10px; }
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:16px; }
@media (max-width: 900px) { .grid2 { grid-template-columns:1fr; } }
.grid2 section { margin-bottom:0; }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { padding:6px 8px; border-bottom:1px solid var(--line); text-align:right;
  white-space:nowrap; }
th { color:var(--muted); font-weight:500; font-size:12px; text-transform:uppercase; }
th:first-child, td:first-child { text-align:left; }
tr:last-child td { border-bottom:0; }
ul.insights { list-style:none; padding:0; margin:0; }
ul.insights li { padding:7px 10px; border-left:4px solid var(--line); margin-bottom:6px;
  background:#fafbfd; }
ul.insights li.critical { border-color:var(--bad); }
ul.insights li.warning { border-color:var(--warn); }
ul.insights li.info { border-color:var(--accent); }
.tag { font-size:11px; text-transform:uppercase; font-weight:600; margin-right:6px; }
.critical .tag { color:var(--bad); } .warning .tag { color:var(--warn); }
.info .tag { color:var(--accent); }
.up { color:var(--ok); } .down { color:var(--bad); } .late { color:var(--warn); }
.worse { color:var(--bad); } .better { color:var(--ok); }
.muted { color:var(--muted); }
img.chart { max-width:100%; height:auto; display:block; margin:0 auto; }
footer { color:var(--muted); font-size:12px; text-align:center; margin-top:10px; }
"""

SCRIPT = f"""
<script>
// Refresh the content every {REFRESH_SECONDS}s while the tab is visible; no framework.
setInterval(async () => {{
  if (document.hidden) return;
  try {{
    const answer = await fetch(location.href, {{credentials: "same-origin"}});
    if (!answer.ok) return;
    const page = new DOMParser().parseFromString(await answer.text(), "text/html");
    document.querySelector("main").replaceWith(page.querySelector("main"));
  }} catch (e) {{ /* keep what is shown; the next tick tries again */ }}
}}, {REFRESH_SECONDS * 1000});
</script>
"""
