// schema.graphql is what the code emits, and it offers everything the public contract (docs/api-contract.graphql) promises.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, isEnumType, isInputObjectType, isObjectType, type GraphQLNamedType } from 'graphql';
import { printSchemaFile } from '../src/server/schema';

const root = join(__dirname, '..');
// The project's own copy of the public contract (a user's clone has no ../shared).
const contract = buildSchema(readFileSync(join(root, 'docs', 'api-contract.graphql'), 'utf8'));

/** Every type, field, argument and enum value of `expected` that `actual` lacks or types differently. */
function contractGaps(expected: ReturnType<typeof buildSchema>, actual: ReturnType<typeof buildSchema>): string[] {
  const gaps: string[] = [];
  for (const type of Object.values(expected.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    const mine: GraphQLNamedType | undefined = actual.getType(type.name);
    if (!mine) {
      gaps.push(`type ${type.name} is missing`);
      continue;
    }
    if (mine.constructor !== type.constructor) gaps.push(`${type.name} is a different kind of type`);
    if (isEnumType(type) && isEnumType(mine)) {
      for (const v of type.getValues()) if (!mine.getValue(v.name)) gaps.push(`${type.name}.${v.name} is missing`);
    }
    if ((isObjectType(type) && isObjectType(mine)) || (isInputObjectType(type) && isInputObjectType(mine))) {
      const myFields = mine.getFields() as Record<
        string,
        { type: unknown; args?: readonly { name: string; type: unknown; defaultValue: unknown }[] }
      >;
      for (const field of Object.values(type.getFields())) {
        const key = `${type.name}.${field.name}`;
        const myField = myFields[field.name];
        if (!myField) {
          gaps.push(`${key} is missing`);
          continue;
        }
        if (String(myField.type) !== String(field.type))
          gaps.push(`${key} is ${String(myField.type)}, not ${String(field.type)}`);
        for (const arg of 'args' in field ? field.args : []) {
          const myArg = myField.args?.find((a) => a.name === arg.name);
          if (!myArg) gaps.push(`${key}(${arg.name}) is missing`);
          else if (String(myArg.type) !== String(arg.type) || myArg.defaultValue !== arg.defaultValue) {
            gaps.push(`${key}(${arg.name}) is ${String(myArg.type)} = ${String(myArg.defaultValue)}`);
          }
        }
        // An argument the contract does not have must be optional, or existing calls break.
        for (const myArg of myField.args ?? []) {
          const inContract = 'args' in field && field.args.some((a: { name: string }) => a.name === myArg.name);
          if (!inContract && String(myArg.type).endsWith('!'))
            gaps.push(`${key}(${myArg.name}) is a new required argument`);
        }
      }
    }
  }
  return gaps;
}

describe('schema.graphql', () => {
  it('is exactly what the code emits (run `npm run schema` after changing a resolver or type)', async () => {
    const committed = readFileSync(join(root, 'schema.graphql'), 'utf8');
    expect(committed).toBe(await printSchemaFile());
  });

  it('has every type, field, argument and enum value of the public contract, with the same types', async () => {
    const ours = buildSchema(readFileSync(join(root, 'schema.graphql'), 'utf8'));
    expect(contractGaps(contract, ours)).toEqual([]);
  });

  it('the contract check notices a missing field and a changed type', () => {
    const broken = buildSchema(
      readFileSync(join(root, 'schema.graphql'), 'utf8')
        .replace(/\n {2}emailVerified: Boolean!/, '')
        .replace('expiresIn: Int!\n  user: User!', 'expiresIn: Int\n  user: User!'),
    );
    expect(contractGaps(contract, broken)).toEqual(
      expect.arrayContaining(['User.emailVerified is missing', 'AuthPayload.expiresIn is Int, not Int!']),
    );
  });
});

// The docs copy is the first release's contract followed by the second release's sections implemented so far, each
// as ../shared has it. Checked only where ../shared exists (this workspace), so a user's clone needs none of it.
const shared = join(root, '..', 'shared');
if (existsSync(shared)) {
  const read = (...path: string[]) => readFileSync(join(...path), 'utf8');

  /** Splits `text` (after `prefix`) into sections, each starting at a line that `starts` matches. */
  function sectionsAfter(text: string, prefix: string, starts: RegExp): string[] {
    expect(text.startsWith(prefix)).toBe(true);
    const rest = text.slice(prefix.length);
    return rest
      .split(starts)
      .map((s) => s.trim())
      .filter((s) => s !== '');
  }

  describe('docs/ copy of the contract', () => {
    it('docs/api-contract.graphql is the first release followed by verbatim sections of api-contract-next.graphql', () => {
      const separator = /^# -{20,}$/m;
      const next = read(shared, 'api-contract-next.graphql')
        .split(separator)
        .map((s) => s.trim());
      const added = sectionsAfter(
        read(root, 'docs', 'api-contract.graphql'),
        read(shared, 'api-contract.graphql'),
        separator,
      );
      for (const section of added) expect(next).toContain(section);
    });

    it('docs/contract.md is CONTRACT.md followed by sections of CONTRACT-next.md (each line as there)', () => {
      const heading = /^(?=## )/m;
      const next = new Map(
        read(shared, 'CONTRACT-next.md')
          .split(heading)
          .map((s) => [s.split('\n')[0]!, s] as const),
      );
      const added = sectionsAfter(read(root, 'docs', 'contract.md'), read(shared, 'CONTRACT.md'), heading);
      for (const section of added) {
        const title = section.split('\n')[0]!;
        expect(next.has(title) ? title : `${title} (not in CONTRACT-next.md)`).toBe(title);
        const theirs = new Set(next.get(title)!.split('\n'));
        expect(section.split('\n').filter((line) => !theirs.has(line))).toEqual([]);
      }
    });
  });
}
