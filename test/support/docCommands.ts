import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { IMPORT_FORMATS, IMPORT_OPTIONS, parseImportArgs } from "../../src/commands/import.js";
import { parseReportArgs, REPORT_OPTIONS } from "../../src/commands/report.js";
import { SIMULATE_OPTIONS } from "../../src/commands/simulate.js";
import { openApiDocument } from "../../src/http/openapi.js";

/**
 * The commands a document tells a person to run, read out of its Markdown (code blocks and inline code),
 * and checked against the CLI's own argument parsers and the OpenAPI document: a runbook must not send
 * on-call to a subcommand, flag, format or endpoint that does not exist.
 */

export interface DocCommand {
  file: string;
  /** As written (continuation lines joined). */
  text: string;
  kind: "payrecon" | "curl";
  /** payrecon: the arguments after `payrecon`; curl: its arguments. */
  args: string[];
  /** Inline code naming a command in prose (`payrecon import`): only the subcommand is checked. */
  mention: boolean;
}

/** Shell words up to the first pipe, redirection, `&&` or `;` (quotes removed, `$VAR` and `<placeholder>` kept). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let word = "";
  let quote: string | undefined;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      started = true;
      continue;
    }
    // A `>` inside a word closes a <placeholder>; a redirection starts a word.
    if (c === "|" || (c === ">" && !started) || c === ";" || (c === "&" && line[i + 1] === "&")) break;
    if (/\s/.test(c)) {
      if (started) words.push(word);
      word = "";
      started = false;
      continue;
    }
    word += c;
    started = true;
  }
  if (started) words.push(word);
  return words;
}

/** `docker compose run [options] SERVICE args…`: the service and its arguments. */
function composeRun(words: string[]): { service: string; args: string[] } | undefined {
  if (words[0] !== "docker" || words[1] !== "compose" || words[2] !== "run") return undefined;
  let i = 3;
  while (i < words.length && words[i]!.startsWith("-")) {
    // Options that take a value as the next word.
    if (
      ["-v", "--volume", "-e", "--env", "-w", "--workdir", "--name", "-u", "--user", "--entrypoint"].includes(words[i]!)
    )
      i++;
    i++;
  }
  return words[i] === undefined ? undefined : { service: words[i]!, args: words.slice(i + 1) };
}

/** The service names `docker compose run` is pointed at, for the caller to check against docker-compose.yml. */
export const composeServicesUsed = new Set<string>();

function commandOf(file: string, text: string, mention: boolean): DocCommand | undefined {
  const words = shellWords(text.trim());
  const compose = composeRun(words);
  if (compose) {
    composeServicesUsed.add(compose.service);
    return { file, text, kind: "payrecon", args: compose.args, mention };
  }
  const start = words[0] === "npx" ? 1 : 0;
  if (words[start] === "payrecon") return { file, text, kind: "payrecon", args: words.slice(start + 1), mention };
  if (words[0] === "curl") return { file, text, kind: "curl", args: words.slice(1), mention };
  return undefined;
}

/** Every payrecon and curl command in a Markdown document; Kubernetes Job YAML gives its container args. */
export function docCommands(file: string, markdown: string): DocCommand[] {
  const commands: DocCommand[] = [];
  const fence = /^[ \t]*```(\w*)\n([\s\S]*?)^[ \t]*```/gm; // list items indent their blocks
  for (const block of markdown.matchAll(fence)) {
    const [, language, body] = block;
    if (language === "yaml" || language === "yml") {
      for (const document of parseYamlDocuments(body!)) {
        if (document?.kind !== "Job") continue;
        for (const container of document.spec?.template?.spec?.containers ?? []) {
          const args = (container.args ?? []) as string[];
          commands.push({
            file,
            text: `Job ${document.metadata?.name}: ${args.join(" ")}`,
            kind: "payrecon",
            args,
            mention: false,
          });
        }
      }
      continue;
    }
    for (const line of body!.replace(/\\\n\s*/g, " ").split("\n")) {
      const command = commandOf(file, line.replace(/^\s*\$\s+/, ""), false);
      if (command) commands.push(command);
    }
  }
  const prose = markdown.replace(fence, "");
  for (const span of prose.matchAll(/`([^`\n]+)`/g)) {
    const command = commandOf(file, span[1]!, true);
    if (command) commands.push(command);
  }
  return commands;
}

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes manifests are read field by field
function parseYamlDocuments(text: string): any[] {
  return text
    .split(/^---$/m)
    .filter((part) => part.trim() !== "")
    .map((part) => parseYaml(part));
}

/** Flags `payrecon <command>` accepts, from the parsers the commands use. */
export const COMMAND_OPTIONS: Record<string, Record<string, { type: "string" | "boolean"; short?: string }>> = {
  start: { help: { type: "boolean", short: "h" } },
  migrate: { help: { type: "boolean", short: "h" } },
  report: REPORT_OPTIONS,
  import: IMPORT_OPTIONS,
  simulate: SIMULATE_OPTIONS,
};

/** What is wrong with `payrecon …args`, or undefined when the CLI accepts it. */
export function payreconProblem(args: string[], mention: boolean): string | undefined {
  const [command, ...rest] = args;
  if (command === undefined) return undefined;
  if (["help", "version", "--help", "-h", "--version", "-v"].includes(command)) {
    const topic = rest[0];
    return command === "help" && topic !== undefined && !topic.startsWith("<") && !COMMAND_OPTIONS[topic]
      ? `no command "${topic}"`
      : undefined;
  }
  const options = COMMAND_OPTIONS[command];
  if (!options) return `no subcommand "${command}"`;
  try {
    if (mention) {
      // Prose naming a command (`payrecon import adyen-settlement`): its flags and format, not a full line.
      const { positionals } = parseArgs({ args: rest, options, strict: true, allowPositionals: command === "import" });
      const format = positionals[0];
      if (command === "import" && format !== undefined && !IMPORT_FORMATS.includes(format as never)) {
        return `unknown format "${format}"`;
      }
      return undefined;
    }
    if (command === "import") {
      const parsed = parseImportArgs(rest);
      return typeof parsed === "string" && parsed !== "help" ? parsed : undefined;
    }
    if (command === "report") {
      parseReportArgs(rest);
      return undefined;
    }
    parseArgs({ args: rest, options, strict: true, allowPositionals: false });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the OpenAPI document is plain JSON
const openApi = openApiDocument() as any;

/** What is wrong with a curl command against payrecon's API, or undefined when its endpoint exists. */
export function curlProblem(args: string[]): string | undefined {
  const url = args.find((arg) => /^https?:\/\//.test(arg));
  if (!url) return "no URL";
  let method = "get";
  for (const [index, arg] of args.entries()) {
    if (arg === "--request" || /^-[a-zA-Z]*X$/.test(arg)) method = args[index + 1]!.toLowerCase();
    if (/^(-d|--data|--data-binary|--data-raw|--json)$/.test(arg) && method === "get") method = "post";
  }
  const withoutOrigin = url.replace(/^https?:\/\/[^/]+/, "") || "/";
  const [path, query = ""] = withoutOrigin.split("?") as [string, string?];
  const route = Object.keys(openApi.paths).find((template) =>
    new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(path),
  );
  if (!route) return `no endpoint ${path} in the OpenAPI document`;
  const operation = openApi.paths[route][method];
  if (!operation) return `${method.toUpperCase()} ${route} is not in the OpenAPI document`;
  const known = new Set(
    // biome-ignore lint/suspicious/noExplicitAny: plain JSON
    (operation.parameters ?? []).filter((p: any) => p.in === "query").map((p: any) => p.name as string),
  );
  for (const pair of query.split("&").filter(Boolean)) {
    const name = decodeURIComponent(pair.split("=")[0]!);
    if (!known.has(name)) return `${route} has no query parameter "${name}"`;
  }
  return undefined;
}
