import type { Config } from "../config.js";
import type { Logger } from "../logger.js";

/** A `payrecon` subcommand: configuration and logger from main, its own arguments; resolves to the exit code. */
export type Command = (config: Config, log: Logger, args: string[]) => Promise<number>;

/** Exit code for wrong usage (bad flags or arguments), as for a bad configuration. */
export const USAGE_ERROR = 2;

/** node:util parseArgs messages run on with advice about "--"; the first sentence says what is wrong. */
export function argsMessage(error: unknown): string {
  return (error as Error).message.split(/\.\s/)[0]!.replace(/\.$/, "");
}

/** Wrong usage: one line on stderr naming the command and where its help is; resolves to USAGE_ERROR. */
export function usageError(command: string, message: string): number {
  process.stderr.write(`payrecon ${command}: ${message} (see payrecon ${command} --help)\n`);
  return USAGE_ERROR;
}
