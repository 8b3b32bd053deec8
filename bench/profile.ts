import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
}

function latestProfile(profileDir: string): CpuProfile | undefined {
  const files = readdirSync(profileDir).filter((file) => file.endsWith(".cpuprofile"));
  const latest = files.sort().at(-1);
  if (!latest) return undefined;
  return JSON.parse(readFileSync(path.join(profileDir, latest), "utf8")) as CpuProfile;
}

/** Self time per key of each sample's frame, as shares of all samples, largest first. */
function shares(profile: CpuProfile, keyOf: (frame: CpuProfile["nodes"][number]["callFrame"]) => string, top: number) {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const sample of profile.samples) {
    const frame = byNode.get(sample)?.callFrame;
    if (!frame) continue;
    const key = keyOf(frame);
    self.set(key, (self.get(key) ?? 0) + 1);
  }
  const total = profile.samples.length;
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}%  ${name}`);
}

export function hottest(profileDir: string, root: string, top = 15): string[] {
  const profile = latestProfile(profileDir);
  if (!profile) return [];
  return shares(
    profile,
    (frame) =>
      `${frame.functionName || "(anonymous)"} ${frame.url.replace(/^.*node_modules\//, "").replace(root, "")}:${frame.lineNumber + 1}`,
    top,
  );
}

/**
 * Self time by where the code lives: a package (kafkajs, pg, zod …), a file of payrecon, node's own
 * modules, or V8's pseudo-frames (idle, GC, program). Functions are too fine to say which stage costs what.
 */
export function hottestModules(profileDir: string, root: string, top = 15): string[] {
  const profile = latestProfile(profileDir);
  if (!profile) return [];
  return shares(
    profile,
    (frame) => {
      if (!frame.url) return frame.functionName || "(native)";
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame.url);
      if (pkg?.[1]) return pkg[1];
      if (frame.url.startsWith("node:")) return frame.url;
      return frame.url.replace(/^file:\/\//, "").replace(root, "");
    },
    top,
  );
}
