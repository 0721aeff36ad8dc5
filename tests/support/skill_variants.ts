import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { FIXTURE_SKILLS } from "./test_node.ts";

/**
 * A copy of fixture skill `fixture` under another `name` with its manifest
 * changed by `changes` (its built module as it is), in a temporary folder
 * for a node's registry to install (`SkillRegistry.installDir`): a
 * fixture's behaviour with another estimate, say, without a second module
 * to build.
 */
export async function fixtureVariant(
  fixture: string,
  name: string,
  changes: Record<string, unknown>,
): Promise<string> {
  const source = join(FIXTURE_SKILLS, fixture);
  const dir = join(
    await Deno.makeTempDir({ prefix: `aos-skill-${name}-` }),
    name,
  );
  await Deno.mkdir(dir);
  const manifest = parseYaml(
    await Deno.readTextFile(join(source, "manifest.yaml")),
  ) as Record<string, unknown>;
  await Deno.writeTextFile(
    join(dir, "manifest.yaml"),
    stringifyYaml({ ...manifest, ...changes, name }),
  );
  await Deno.copyFile(
    join(source, `${fixture}.wasm`),
    join(dir, `${name}.wasm`),
  );
  return dir;
}
