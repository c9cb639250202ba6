/**
 * `rlhf recipe explain [section]`: every recipe field with its type, default, range and meaning,
 * rendered from the schema itself (the one place fields are documented).
 * Example line: "dpo.beta  number > 0  default 0.1  KL strength beta of DPO ..."
 */
import { z } from 'zod';
import { RecipeSchema } from './schema';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  items?: JsonSchema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
}

export interface FieldDoc {
  path: string;
  type: string;
  default?: string;
  description: string;
}

export function recipeFieldDocs(): FieldDoc[] {
  const root = z.toJSONSchema(RecipeSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: FieldDoc[] = [];
  const walk = (s: JsonSchema, prefix: string) => {
    for (const [key, child] of Object.entries(s.properties ?? {})) {
      const p = prefix ? `${prefix}.${key}` : key;
      const obj = child.properties ? child : child.anyOf?.find((a) => a.properties);
      if (obj?.properties) {
        walk(obj, p);
        continue;
      }
      out.push({
        path: p,
        type: typeName(child),
        default: child.default === undefined ? undefined : JSON.stringify(child.default),
        description: child.description ?? '',
      });
    }
  };
  walk(root, '');
  return out.filter((f) => f.path !== '$schema');
}

function typeName(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join('|');
  if (s.anyOf) return s.anyOf.map(typeName).join(' or ');
  if (s.type === 'array') return `${s.items ? typeName(s.items) : 'any'}[]`;
  let t = Array.isArray(s.type) ? s.type.join('|') : s.type ?? 'any';
  const bounds: string[] = [];
  if (s.minimum !== undefined) bounds.push(`>= ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) bounds.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined && s.maximum < 1e15) bounds.push(`<= ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) bounds.push(`< ${s.exclusiveMaximum}`);
  if (bounds.length) t += ` ${bounds.join(', ')}`;
  return t;
}

/** Text for the terminal, optionally only one section ("dpo") or field ("dpo.beta"). */
export function explainRecipe(filter?: string): string {
  const docs = recipeFieldDocs().filter((d) => !filter || d.path === filter || d.path.startsWith(filter + '.'));
  if (docs.length === 0) return '';
  const w = Math.max(...docs.map((d) => d.path.length));
  return docs
    .map((d) => `${d.path.padEnd(w)}  ${d.type}${d.default !== undefined ? `  (default ${d.default})` : ''}\n${' '.repeat(w + 2)}${d.description}`)
    .join('\n');
}
