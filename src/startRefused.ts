/**
 * The daemon cannot start because another process holds what it needs (its
 * HTTP port, its DATA_DIR). The message is one line an operator acts on;
 * `payrecon` prints it alone and exits with START_REFUSED.
 */
export class StartRefused extends Error {
  override name = "StartRefused";
}

/** Exit code when the daemon is refused for a resource another process holds. */
export const START_REFUSED = 3;
