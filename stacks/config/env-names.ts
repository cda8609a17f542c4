/**
 * `CHATBOT_*` environment variables are settings: one that names no setting is a typo
 * (`CHATBOT_MODEL_DEPLY=true` would otherwise deploy no model and say nothing), so it fails
 * the synth like an unknown key in cdktf.json, naming the closest known variable.
 */
import { ENVIRONMENTS_ENV, SETTINGS, SettingKey } from "./settings";

const PREFIX = "CHATBOT_";

/** Every `CHATBOT_*` variable the app reads, with the setting it sets. */
function knownVariables(): Map<string, string> {
  const known = new Map<string, string>((Object.entries(SETTINGS) as [SettingKey, { env: string }][]).map(([key, { env }]) => [env, key]));
  known.set(ENVIRONMENTS_ENV, "the environments to build");
  return known;
}

/** Records a problem for each `CHATBOT_*` variable that names no setting. */
export function checkEnvironmentVariableNames(env: NodeJS.ProcessEnv, problems: string[]): void {
  const known = knownVariables();
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PREFIX) || known.has(name)) continue;
    const closest = closestName(name, [...known.keys()]);
    problems.push(`unknown environment variable ${name}; did you mean ${closest} (${known.get(closest)})? Every CHATBOT_* variable must name a setting (README, "Configuration")`);
  }
}

/** The candidate with the smallest edit distance to `name` (the first of equals, in sorted order). */
export function closestName(name: string, candidates: readonly string[]): string {
  let best = candidates[0];
  let bestDistance = Infinity;
  for (const candidate of [...candidates].sort()) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance: insertions, deletions and substitutions, each costing one. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
