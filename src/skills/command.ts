import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import {
  callApi,
  clientOptions,
  describeError,
  EXIT,
  formatTable,
} from "../cli/mod.ts";
import { scaffoldSkill, testSkillDir } from "./authoring.ts";
import { buildSkills, findSkillDirs, PROJECT_ROOT } from "./build.ts";

const USAGE = `usage: aos skills [list] [--url URL] [--json]
       aos skills install <dir> | <module.wasm> <manifest.yaml>  [--url URL] [--key KEY] [--sha256 HEX]
       aos skills new <name> [--dir DIR]
       aos skills test <dir> [--json]
       aos skills build [--if-stale] [--fixtures]
  list     the skills a server has installed (default)
  install  install a skill on a server (admin key: --key, AOS_KEY or AOS_ADMIN_KEY)
  new      scaffold an AssemblyScript skill with a manifest and a contract
  test     build a skill folder and run its contract's test cases in the sandbox
  build    compile the skills in this repository from source`;

/** `aos skills …`: list, install and build skills. */
export async function skillsCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  switch (verb) {
    case undefined:
    case "list":
      return await listSkills(rest);
    case "install":
      return await installSkill(rest);
    case "build":
      return await buildCommand(rest);
    case "new":
      return await newCommand(rest);
    case "test":
      return await testCommand(rest);
    default:
      console.error(USAGE);
      return EXIT.usage;
  }
}

async function newCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { dir: { type: "string" } },
  });
  const name = positionals[0];
  if (name === undefined || positionals.length > 1) {
    console.error(USAGE);
    return EXIT.usage;
  }
  const { dir, files } = await scaffoldSkill(name, values.dir ?? name);
  console.log(`created ${name} in ${dir}: ${files.join(", ")}`);
  console.log(`next: aos skills test ${dir}`);
  return EXIT.ok;
}

async function testCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: "boolean", default: false } },
  });
  if (positionals.length !== 1) {
    console.error(USAGE);
    return EXIT.usage;
  }
  const { report, text } = await testSkillDir(positionals[0]!);
  console.log(values.json ? JSON.stringify(report) : text);
  return report.ok ? EXIT.ok : EXIT.failure;
}

async function buildCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      "if-stale": { type: "boolean", default: false },
      fixtures: { type: "boolean", default: false },
    },
  });
  const dirs = findSkillDirs(PROJECT_ROOT, { fixtures: values.fixtures });
  for (
    const built of await buildSkills(dirs, { ifStale: values["if-stale"] })
  ) {
    console.log(
      `${
        built.rebuilt ? "built " : "fresh "
      } ${built.name}@${built.version}  sha256 ${built.sha256}`,
    );
  }
  return EXIT.ok;
}

async function listSkills(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: "string" },
      key: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const answer = await callApi(clientOptions(values, Deno.env.toObject()), {
    method: "GET",
    path: "/v1/skills",
  });
  if (answer.status !== 200) {
    console.error(describeError(answer));
    return EXIT.failure;
  }
  const skills = answer.body.skills as {
    name: string;
    version: string;
    sha256: string;
    owner?: string;
    tags?: string[];
  }[];
  if (values.json) {
    console.log(JSON.stringify(skills));
    return EXIT.ok;
  }
  console.log(formatTable(
    ["name", "version", "sha256", "owner", "tags"],
    skills.map((
      skill,
    ) => [
      skill.name,
      skill.version,
      skill.sha256.slice(0, 12),
      skill.owner ?? "",
      (skill.tags ?? []).join(","),
    ]),
  ));
  return EXIT.ok;
}

async function installSkill(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      key: { type: "string" },
      sha256: { type: "string" },
      json: { type: "boolean", default: false },
    },
  });
  const files = await installFiles(positionals);
  if (files === undefined) {
    console.error(USAGE);
    return EXIT.usage;
  }
  const form = new FormData();
  form.set("manifest", files.manifestText);
  form.set(
    "module",
    new File(
      [files.module as Uint8Array<ArrayBuffer>],
      basename(files.modulePath),
    ),
  );
  if (values.sha256 !== undefined) form.set("sha256", values.sha256);
  const answer = await callApi(clientOptions(values, Deno.env.toObject()), {
    method: "POST",
    path: "/v1/skills",
    form,
  });
  if (values.json) console.log(JSON.stringify(answer.body));
  if (answer.status !== 200 && answer.status !== 201) {
    console.error(`install refused: ${describeError(answer)}`);
    return EXIT.failure;
  }
  const skill = answer.body as {
    name: string;
    version: string;
    sha256: string;
    created: boolean;
  };
  if (!values.json) {
    console.log(
      `${
        skill.created ? "installed" : "already installed"
      } ${skill.name}@${skill.version}  sha256 ${skill.sha256}`,
    );
  }
  return EXIT.ok;
}

/** `<dir>` (manifest.yaml + <name>.wasm) or `<module.wasm> <manifest.yaml>`. */
async function installFiles(
  positionals: string[],
): Promise<
  { manifestText: string; module: Uint8Array; modulePath: string } | undefined
> {
  if (positionals.length === 1) {
    const dir = positionals[0]!;
    const manifestText = await Deno.readTextFile(join(dir, "manifest.yaml"));
    const name = (parseYaml(manifestText) as { name?: unknown })?.name;
    const modulePath = join(dir, `${String(name)}.wasm`);
    return {
      manifestText,
      module: await Deno.readFile(modulePath),
      modulePath,
    };
  }
  if (positionals.length === 2) {
    const [first, second] = positionals as [string, string];
    const [modulePath, manifestPath] = first.endsWith(".wasm")
      ? [first, second]
      : [second, first];
    return {
      manifestText: await Deno.readTextFile(manifestPath),
      module: await Deno.readFile(modulePath),
      modulePath,
    };
  }
  return undefined;
}
