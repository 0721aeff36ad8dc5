/** Exit codes of the `aos` command. */
export const EXIT = {
  ok: 0,
  /** The command failed (server error, failed run, refused request). */
  failure: 1,
  /** The command line was wrong. */
  usage: 2,
  /** The thing asked about does not exist. */
  notFound: 3,
  /** The server could not be reached. */
  unreachable: 4,
} as const;
