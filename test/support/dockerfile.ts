import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

/**
 * The Dockerfile's build and run steps performed in a plain directory, without Docker: the same files
 * copied (the .dockerignore honoured), the build stage's RUN commands run by `sh` with the Node and npm on
 * PATH, the runtime stage assembled from its `COPY --from` paths, its ENV and ENTRYPOINT/CMD read back.
 * Each stage's filesystem is a directory `<root>/<stage>`; container paths are mapped below it.
 */

export interface Instruction {
  keyword: string;
  /** Everything after the keyword, continuation lines joined. */
  text: string;
}

export interface Stage {
  name: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** Global ARGs (before the first FROM) with their defaults. */
  args: Record<string, string>;
  stages: Stage[];
}

export function parseDockerfile(source: string): Dockerfile {
  const logical: string[] = [];
  let pending = "";
  for (const raw of source.split("\n")) {
    const line = raw.trimEnd();
    if (pending === "" && (line.trim() === "" || line.trimStart().startsWith("#"))) continue;
    if (pending !== "" && line.trimStart().startsWith("#")) continue; // comments inside a continued instruction
    if (line.endsWith("\\")) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push((pending + line).trim());
    pending = "";
  }
  const dockerfile: Dockerfile = { args: {}, stages: [] };
  for (const line of logical) {
    const match = /^(\w+)\s+([\s\S]*)$/.exec(line);
    if (!match) throw new Error(`unparseable Dockerfile line: ${line}`);
    const keyword = match[1]!.toUpperCase();
    const text = match[2]!.trim();
    if (keyword === "FROM") {
      const alias = /\s+AS\s+(\S+)$/i.exec(text);
      dockerfile.stages.push({ name: alias?.[1] ?? String(dockerfile.stages.length), instructions: [] });
      continue;
    }
    const stage = dockerfile.stages.at(-1);
    if (!stage) {
      if (keyword !== "ARG") throw new Error(`${keyword} before the first FROM`);
      const [name, value = ""] = text.split("=");
      dockerfile.args[name!] = value;
      continue;
    }
    stage.instructions.push({ keyword, text });
  }
  return dockerfile;
}

/** `${NAME}` and `$NAME` replaced from `variables` (unknown ones become empty, as Docker does). */
function substitute(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, braced, bare) => variables[braced ?? bare] ?? "");
}

/** `KEY=value KEY2="two words"` (and the legacy `KEY value`). */
function parseEnv(text: string, variables: Record<string, string>): Record<string, string> {
  if (!/^\w+=/.test(text)) {
    const [key, ...value] = text.split(/\s+/);
    return { [key!]: substitute(value.join(" "), variables) };
  }
  const env: Record<string, string> = {};
  for (const match of text.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const value = match[2]!.startsWith('"') ? JSON.parse(match[2]!) : match[2]!;
    env[match[1]!] = substitute(value, { ...variables, ...env });
  }
  return env;
}

/** `--flag=value` options, then the words. */
function parseFlags(text: string): { flags: Record<string, string>; words: string[] } {
  const flags: Record<string, string> = {};
  const words: string[] = [];
  for (const word of text.split(/\s+/)) {
    const flag = /^--([\w-]+)=(.*)$/.exec(word);
    if (flag && words.length === 0) flags[flag[1]!] = flag[2]!;
    else words.push(word);
  }
  return { flags, words };
}

/** Exec form (`["node", "x"]`) or shell form (`node x`, run by `sh -c`). */
function commandOf(text: string): string[] {
  return text.startsWith("[") ? (JSON.parse(text) as string[]) : ["sh", "-c", text];
}

/** .dockerignore patterns (root-relative; `*` within one path segment) as a test on context-relative paths. */
function dockerIgnore(context: string): (relative: string) => boolean {
  const file = path.join(context, ".dockerignore");
  if (!existsSync(file)) return () => false;
  const patterns = readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.trim().replace(/^\/+|\/+$/g, ""))
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((pattern) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*")}(/|$)`));
  return (relative) => patterns.some((pattern) => pattern.test(relative));
}

function run(command: string[], cwd: string, env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output = (output + chunk.toString()).slice(-20_000);
    });
    child.stderr.on("data", (chunk) => {
      output = (output + chunk.toString()).slice(-20_000);
    });
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command.join(" ")} exited ${code}:\n${output}`)),
    );
  });
}

export interface BuiltImage {
  /** The runtime stage's WORKDIR, mapped onto the host. */
  workdir: string;
  /** Its ENV, ARG defaults substituted. */
  env: Record<string, string>;
  /** ENTRYPOINT followed by CMD. */
  command: string[];
  /** Every build-stage RUN command, in order (what was run). */
  runCommands: string[];
}

/**
 * Performs the stages in order under `root`. RUN in the final stage is not performed (it prepares the
 * container's own filesystem: a data directory and its owner); USER, EXPOSE, HEALTHCHECK and STOPSIGNAL
 * describe the container, not its contents.
 */
export async function buildWithoutDocker(
  context: string,
  root: string,
  hostEnv: Record<string, string>,
): Promise<BuiltImage> {
  const dockerfile = parseDockerfile(readFileSync(path.join(context, "Dockerfile"), "utf8"));
  const ignored = dockerIgnore(context);
  const stageRoots = new Map<string, string>();
  const runCommands: string[] = [];
  let result: BuiltImage | undefined;
  for (const [index, stage] of dockerfile.stages.entries()) {
    const final = index === dockerfile.stages.length - 1;
    const stageRoot = path.join(root, stage.name);
    const onHost = (containerPath: string) => path.join(stageRoot, containerPath);
    stageRoots.set(stage.name, stageRoot);
    mkdirSync(stageRoot, { recursive: true });
    let workdir = "/";
    const variables: Record<string, string> = { ...dockerfile.args };
    const env: Record<string, string> = {};
    let entrypoint: string[] = [];
    let cmd: string[] = [];
    for (const { keyword, text } of stage.instructions) {
      switch (keyword) {
        case "ARG": {
          const [name, value = ""] = text.split("=");
          variables[name!] = value;
          break;
        }
        case "ENV":
          Object.assign(env, parseEnv(text, { ...variables, ...env }));
          break;
        case "WORKDIR":
          workdir = path.posix.resolve(workdir, substitute(text, { ...variables, ...env }));
          mkdirSync(onHost(workdir), { recursive: true });
          break;
        case "COPY": {
          const { flags, words } = parseFlags(substitute(text, { ...variables, ...env }));
          const destination = words.pop()!;
          const target = onHost(path.posix.resolve(workdir, destination));
          const from = flags.from === undefined ? undefined : stageRoots.get(flags.from);
          if (flags.from !== undefined && !from) throw new Error(`COPY --from=${flags.from}: no such stage`);
          for (const source of words) {
            const sourcePath = from ? path.join(from, path.posix.resolve("/", source)) : path.join(context, source);
            if (!existsSync(sourcePath)) throw new Error(`COPY ${source}: not found`);
            const intoDirectory = destination.endsWith("/") || words.length > 1;
            const to =
              intoDirectory && !statSync(sourcePath).isDirectory() ? path.join(target, path.basename(source)) : target;
            cpSync(sourcePath, to, {
              recursive: true,
              filter: (file) => from !== undefined || !ignored(path.relative(context, file)),
            });
          }
          break;
        }
        case "RUN":
          if (final) break;
          runCommands.push(text);
          await run(commandOf(text), onHost(workdir), { ...hostEnv, ...env });
          break;
        case "ENTRYPOINT":
          entrypoint = commandOf(text);
          cmd = [];
          break;
        case "CMD":
          cmd = commandOf(text);
          break;
        case "USER":
        case "EXPOSE":
        case "HEALTHCHECK":
        case "STOPSIGNAL":
        case "LABEL":
          break;
        default:
          throw new Error(`Dockerfile instruction ${keyword} is not performed by this test: teach it`);
      }
    }
    if (final) result = { workdir: onHost(workdir), env, command: [...entrypoint, ...cmd], runCommands };
  }
  return result!;
}
