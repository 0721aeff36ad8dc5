import { parseArgs } from "node:util";
import { buildSkills, findSkillDirs, PROJECT_ROOT } from "./build.ts";

const USAGE = `usage: aos skills build [--if-stale] [--fixtures]
  --if-stale  rebuild only skills whose sources changed
  --fixtures  also build the test fixture skills`;

/** `aos skills …`: building skills from their sources. */
export async function skillsCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  if (verb !== "build") {
    console.error(USAGE);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      "if-stale": { type: "boolean", default: false },
      fixtures: { type: "boolean", default: false },
    },
  });
  const dirs = findSkillDirs(PROJECT_ROOT, { fixtures: values.fixtures });
  for (
    const built of await buildSkills(dirs, { ifStale: values["if-stale"] })
  ) {
    const state = built.rebuilt ? "built " : "fresh ";
    console.log(
      `${state} ${built.name}@${built.version}  sha256 ${built.sha256}`,
    );
  }
  return 0;
}
