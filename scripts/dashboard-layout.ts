/**
 * The CloudWatch dashboard of a synthesized stack as a layout picture (pure: no files, no
 * browser): find the dashboard in cdk.tf.json, read its body into a layout model, and render
 * that as an HTML page with every widget at its place on CloudWatch's 24-column grid.
 * Terraform references (`${aws_lambda_function.x_1A2B3C4D.function_name}`) become short
 * placeholders (`‹x.function_name›`). Used by scripts/render-dashboard.ts.
 */

/** An expected problem with the input, reported as its message alone. */
export class LayoutError extends Error {}

/** One line of a metric widget: a metric, or a math expression over other lines. */
export interface LineModel {
  readonly id?: string;
  readonly label: string;
  readonly metric?: string;
  readonly stat?: string;
  /** Only when it is not the dashboard's region. */
  readonly region?: string;
  readonly expression?: string;
  readonly hidden: boolean;
}

export interface WidgetModel {
  readonly type: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly title: string;
  /** E.g. "timeSeries · 5 min · AWS/Lambda". */
  readonly details: string;
  readonly lines: readonly LineModel[];
  /** Log widgets: the Logs Insights query; text widgets: the markdown. */
  readonly text?: string;
}

export interface DashboardModel {
  readonly name: string;
  /** The region most widgets are in. */
  readonly region: string;
  readonly widgets: readonly WidgetModel[];
}

/** Grid scale of the picture: px per grid unit. */
export const UNIT_WIDTH = 60;
export const UNIT_HEIGHT = 40;
const COLUMNS = 24;

const HASH_SUFFIX = /_[0-9A-F]{8}$/;

/** A Terraform reference as a short placeholder: resource name (without its hash) and attribute. */
function placeholder(ref: string): string {
  const parts = ref.trim().split(".");
  if (parts[0] === "data") parts.shift();
  const plain = parts.length >= 3 && parts.every((p) => /^[\w\-[\]"*]+$/.test(p));
  return `‹${plain ? `${parts[1].replace(HASH_SUFFIX, "")}.${parts.slice(2).join(".")}` : "expression"}›`;
}

/** The value with every `${...}` shown as a placeholder (and no raw `${` left). */
export function readable(value: unknown): string {
  const text = typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value);
  return text.replace(/\$\{([^{}]*)\}/g, (_, ref: string) => placeholder(ref)).replace(/\$\{/g, "‹");
}

/** The single aws_cloudwatch_dashboard of a cdk.tf.json document: its name and body. */
export function findDashboard(stack: unknown): { name: string; body: string } {
  const resources = (stack as { resource?: Record<string, Record<string, Record<string, unknown>>> })?.resource;
  const dashboards = Object.entries(resources?.aws_cloudwatch_dashboard ?? {});
  if (dashboards.length === 0) throw new LayoutError("no aws_cloudwatch_dashboard resource in the stack");
  if (dashboards.length > 1) {
    throw new LayoutError(`${dashboards.length} aws_cloudwatch_dashboard resources in the stack (${dashboards.map(([id]) => id).join(", ")}); expected one`);
  }
  const [id, dashboard] = dashboards[0];
  if (typeof dashboard.dashboard_body !== "string") throw new LayoutError(`aws_cloudwatch_dashboard.${id} has no dashboard_body string`);
  return { name: readable(dashboard.dashboard_name ?? id), body: dashboard.dashboard_body };
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Reads a dashboard body (JSON) into the layout model. */
export function parseDashboard(name: string, body: string): DashboardModel {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    throw new LayoutError(`dashboard_body is not JSON: ${(error as Error).message}`);
  }
  const raw = isObject(parsed) ? parsed.widgets : undefined;
  if (!Array.isArray(raw)) throw new LayoutError("dashboard_body has no \"widgets\" array");
  const regions = raw.map((w) => (isObject(w) && isObject(w.properties) ? readable(w.properties.region) : ""));
  const count = (r: string) => regions.filter((x) => x === r).length;
  const region = regions.reduce((best, r) => (count(r) > count(best) ? r : best), regions[0] ?? "");
  return { name, region, widgets: raw.map((w, i) => widgetModel(w, i, region)) };
}

function widgetModel(raw: unknown, index: number, dashboardRegion: string): WidgetModel {
  const w = isObject(raw) ? raw : {};
  const p = isObject(w.properties) ? w.properties : {};
  const place = { x: w.x, y: w.y, width: w.width ?? 6, height: w.height ?? 6 };
  for (const [key, value] of Object.entries(place)) {
    if (typeof value !== "number" || value < 0) throw new LayoutError(`widget ${index + 1} (${readable(p.title) || "untitled"}) has no valid ${key}`);
  }
  const region = readable(p.region) || dashboardRegion;
  const metricRows = Array.isArray(p.metrics) ? p.metrics.filter(Array.isArray) : [];
  const namespaces: string[] = [];
  let previous: unknown[] = [];
  const lines = metricRows.map((row: unknown[]): LineModel => {
    const options = isObject(row[row.length - 1]) ? (row[row.length - 1] as Json) : {};
    const values = row.filter((v) => !isObject(v));
    // CloudWatch's shorthand: "." repeats the line above's value, "..." the rest of its values.
    const dots = values.indexOf("...");
    const full = dots >= 0 ? [...values.slice(0, dots), ...previous.slice(dots)] : values;
    const resolved = full.map((v, i) => (v === "." ? previous[i] : v));
    if (resolved.length > 0) previous = resolved;
    const common = { id: options.id === undefined ? undefined : readable(options.id), hidden: options.visible === false };
    if (options.expression !== undefined) {
      return { ...common, label: readable(options.label) || readable(options.id), expression: readable(options.expression) };
    }
    const [namespace, metric] = resolved.map(readable);
    if (namespace && !namespaces.includes(namespace)) namespaces.push(namespace);
    const lineRegion = readable(options.region) || region;
    return {
      ...common,
      label: readable(options.label) || metric,
      metric,
      stat: readable(options.stat) || readable(p.stat) || "Average",
      region: lineRegion === dashboardRegion ? undefined : lineRegion,
    };
  });
  const details = [
    readable(p.view),
    typeof p.period === "number" ? (p.period % 60 === 0 ? `${p.period / 60} min` : `${p.period} s`) : "",
    p.stacked === true ? "stacked" : "",
    region === dashboardRegion ? "" : region,
    namespaces.join(", "),
  ];
  const type = readable(w.type) || "metric";
  return {
    type,
    ...(place as { x: number; y: number; width: number; height: number }),
    title: readable(p.title) || "(untitled)",
    details: details.filter(Boolean).join(" · "),
    lines,
    text: type === "log" ? readable(p.query) : type === "text" ? readable(p.markdown) : undefined,
  };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

function lineHtml(line: LineModel, showIds: boolean): string {
  const id = showIds && line.id ? `<span class="id">${esc(line.id)}</span> ` : "";
  const hidden = line.hidden ? ' <span class="tag">hidden</span>' : "";
  const meta = line.expression !== undefined
    ? `<code>= ${esc(line.expression)}</code>`
    : `<span class="meta">${[line.metric, line.stat, line.region].filter(Boolean).map((s) => esc(s as string)).join(" · ")}</span>`;
  return `<li>${id}<span class="label">${esc(line.label)}</span>${hidden} ${meta}</li>`;
}

function widgetHtml(w: WidgetModel): string {
  const style = `left:${w.x * UNIT_WIDTH}px;top:${w.y * UNIT_HEIGHT}px;width:${w.width * UNIT_WIDTH}px;height:${w.height * UNIT_HEIGHT}px`;
  const showIds = w.lines.some((l) => l.expression !== undefined);
  // A query reads best one command (and one SOURCE) a line; only whitespace changes.
  const text = w.text === undefined ? "" : `<pre>${esc(w.type === "log" ? w.text.replace(/ (?=\| |SOURCE )/g, "\n") : w.text)}</pre>`;
  const lines = w.lines.length ? `<ul>${w.lines.map((l) => lineHtml(l, showIds)).join("")}</ul>` : "";
  return `<section class="widget" style="${style}"><div class="box">
<h2><span class="type">${esc(w.type)}</span> ${esc(w.title)}</h2><p class="details">${esc(w.details)}</p>${lines}${text}</div></section>`;
}

/** The whole page: a header, then the grid with every widget at its place. Same model, same HTML. */
export function renderHtml(model: DashboardModel): string {
  const rows = Math.max(0, ...model.widgets.map((w) => w.y + w.height));
  const gridStyle = `width:${COLUMNS * UNIT_WIDTH}px;height:${rows * UNIT_HEIGHT}px`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Dashboard ${esc(model.name)}</title><style>
body{margin:0;padding:20px;width:max-content;background:#fff;color:#16191f;font:13px/1.35 "DejaVu Sans",Arial,sans-serif}
header h1{font-size:18px;margin:0 0 4px}header p{margin:0 0 14px;color:#545b64}
.grid{position:relative;background-color:#f2f3f3;background-image:linear-gradient(to right,#e1e4e8 1px,transparent 1px),linear-gradient(to bottom,#e1e4e8 1px,transparent 1px);background-size:${UNIT_WIDTH}px ${UNIT_HEIGHT}px;outline:1px solid #d5dbdb}
.widget{position:absolute;box-sizing:border-box;padding:4px}
.box{box-sizing:border-box;height:100%;overflow:hidden;background:#fff;border:1px solid #aab7b8;border-radius:4px;padding:8px 10px}
h2{font-size:14px;margin:0 0 2px}.type{font:11px monospace;background:#e9ebed;border-radius:3px;padding:1px 4px;vertical-align:1px}
.details{margin:0 0 6px;color:#545b64;font-size:11px}
ul{margin:0;padding:0;list-style:none}li{margin:0 0 3px}.label{font-weight:bold}
.meta,.id{color:#545b64}.id{font:11px monospace}.tag{font-size:10px;border:1px solid #aab7b8;border-radius:3px;padding:0 3px;color:#545b64}
code,pre{font:12px/1.4 "DejaVu Sans Mono",monospace}pre{margin:0;white-space:pre-wrap}
</style></head><body>
<header><h1>CloudWatch dashboard ${esc(model.name)}</h1>
<p>Region ${esc(model.region)} · ${model.widgets.length} widgets · ${COLUMNS}-column grid, 1 unit = ${UNIT_WIDTH} × ${UNIT_HEIGHT} px · ‹name.attribute› is a Terraform reference, known at deploy time</p></header>
<main class="grid" style="${gridStyle}">
${model.widgets.map(widgetHtml).join("\n")}
</main></body></html>
`;
}
