/**
 * The folder rules of src/ (docs/architecture.md explains them), checked by dependency-cruiser as part of
 * `npm test` (scripts/test-all.js; `npm run depcheck` alone). A violation fails the run.
 *
 * The folders form layers, lowest first. A folder may import only folders of lower layers, never one of its own
 * layer or above, so no two folders can import each other, however indirectly. That table carries the folder
 * rules: util/ imports nothing of the project; data/ no model/; losses/ no model/ or train/; model/ no io/;
 * rewards/ nothing of compare/, frontier/ or report/; compare/ and frontier/ compute, report/ above them renders (they
 * never import it); nothing imports cli/, run/ or recipes/ except what sits
 * above them (cli/ imports run/ and recipes/, run/ imports recipes/, and the public entry points src/index.ts and
 * src/api.ts). One rule is not a matter of order and has its own entry: compare/ and frontier/, above train/, still
 * never import it (an audit reads checkpoints, it does not train). Within a folder, modules must not import each
 * other in a circle either (no-circular). Type-only imports count: they tie folders together just the same.
 */
const LAYERS = [
  ['util'],
  ['backend'],
  ['tokenizer'],
  ['data'],
  ['losses'],
  ['model'],
  ['io'],
  ['rewards'],
  ['train'],
  ['compare', 'frontier'],
  ['report'],
  ['bench'],
  ['recipes'],
  ['run'],
  ['cli'],
];

/**
 * Imports that break a rule and are being fixed, each with the reason, as {folder: [module path patterns]}.
 * Keep it empty: an entry is a debt with a name on it, not a permission.
 */
/** @type {Record<string, string[]>} */
const KNOWN = {};

const folder = (name) => `^src/${name}/`;
const anyOf = (names) => `^src/(${names.join('|')})/`;

/** One rule per folder: nothing from its own layer (but itself) or any layer above, nor the entry points. */
const layerRules = LAYERS.flatMap((layer, i) =>
  layer.map((name) => {
    const above = LAYERS.slice(i).flat().filter((n) => n !== name);
    const below = LAYERS.slice(0, i).flat();
    return {
      name: `layer-${name}`,
      comment: `${name}/ may import only ${below.length ? below.join(', ') : 'nothing of the project'} (the layers below it; docs/architecture.md)`,
      severity: 'error',
      from: { path: folder(name), ...(KNOWN[name] ? { pathNot: KNOWN[name] } : {}) },
      to: { path: [anyOf(above), '^src/(index|api)\\.ts$'] },
    };
  }),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules must not import each other in a circle (split the shared part into a third module).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-unknown-folder',
      comment: 'Every folder of src/ has a place in the layer table of .dependency-cruiser.js (and docs/architecture.md).',
      severity: 'error',
      from: { path: '^src/', pathNot: [anyOf(LAYERS.flat()), '^src/[^/]+\\.ts$'] },
      to: {},
    },
    {
      name: 'audit-not-train',
      comment: 'compare/ and frontier/ audit trained models through their checkpoints (io/) and never import train/.',
      severity: 'error',
      from: { path: anyOf(['compare', 'frontier']) },
      to: { path: folder('train') },
    },
    ...layerRules,
  ],
  options: {
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
};
