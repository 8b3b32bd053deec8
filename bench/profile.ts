import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** The hottest functions of the newest V8 CPU profile in `profileDir`, by self time; `root` is cut from paths. */
export function hottest(profileDir: string, root: string, top = 15): string[] {
  const files = readdirSync(profileDir).filter((file) => file.endsWith(".cpuprofile"));
  const latest = files.sort().at(-1);
  if (!latest) return [];
  const profile = JSON.parse(readFileSync(path.join(profileDir, latest), "utf8")) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
  };
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const sample of profile.samples) {
    const frame = byNode.get(sample)?.callFrame;
    if (!frame) continue;
    const key = `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*node_modules\//, "").replace(root, "")}:${frame.lineNumber + 1}`;
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`);
}
