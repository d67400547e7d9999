// The spec schema's validator. Run from sources, it is compiled when first needed; the precompiled
// CLI (scripts/build.mjs) replaces this module with ajv's standalone code for the same schema and
// options (specValidatorModule), so a command starts without compiling the schema (~0.2 s).
import AjvModule, { _, type ValidateFunction } from 'ajv';
import { experimentSchema } from './schema.ts';
import { specFormats } from './formats.ts';
import type { Experiment } from './types.ts';

const Ajv = AjvModule.default ?? AjvModule;
type AjvCodeOptions = NonNullable<ConstructorParameters<typeof Ajv>[0]>['code'];

function compile(code?: AjvCodeOptions) {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, discriminator: true, verbose: true, strict: true, strictRequired: false, code });
  for (const [name, check] of Object.entries(specFormats)) ajv.addFormat(name, check);
  return { ajv, validate: ajv.compile<Experiment>(experimentSchema) };
}

let compiled: ValidateFunction<Experiment> | undefined;

export function specValidator(): ValidateFunction<Experiment> {
  compiled ??= compile().validate;
  return compiled;
}

/**
 * The source of an ES module that exports `specValidator()` as this module does, with the
 * validator precompiled: `formatsModule` is the import specifier of ./formats.ts as the module
 * will see it. ajv's standalone output `require`s its runtime helpers even when asked for ESM;
 * those become imports.
 */
export async function specValidatorModule(formatsModule: string): Promise<string> {
  const standalone = await import('ajv/dist/standalone/index.js');
  const standaloneCode = standalone.default.default ?? standalone.default;
  const { ajv, validate } = compile({ source: true, esm: true, formats: _`specFormats` });
  const imports: string[] = [`import { specFormats } from ${JSON.stringify(formatsModule)};`];
  const body = standaloneCode(ajv, validate).replace(/\brequire\("(ajv\/dist\/runtime\/[a-z0-9]+)"\)/g, (_match: string, path: string) => {
    const name = `ajvRuntime${imports.length}`;
    imports.push(`import ${name} from ${JSON.stringify(`${path}.js`)};`);
    return name;
  });
  if (/\brequire\(/.test(body)) throw new Error('ajv standalone code requires a module other than its runtime helpers');
  return `${imports.join('\n')}\n${body}\nexport function specValidator() {\n  return validate;\n}\n`;
}
