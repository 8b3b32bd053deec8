import type { Config } from "../config.js";
import type { Logger } from "../logger.js";

/** A `payrecon` subcommand: configuration and logger from main, its own arguments; resolves to the exit code. */
export type Command = (config: Config, log: Logger, args: string[]) => Promise<number>;

/** Exit code for wrong usage (bad flags or arguments), as for a bad configuration. */
export const USAGE_ERROR = 2;
