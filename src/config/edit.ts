/**
 * Edits of the pipeline file that keep the user's comments, order and layout (the yaml package's
 * Document API): `stage add` and `freeze`/`unfreeze`. Each edit is checked by loading the edited
 * pipeline; a change that does not load is rolled back, so the file is never left broken.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import YAML, { isMap, type Document } from 'yaml';
import { LockstepError } from '../errors.js';
import { PIPELINE_FILES } from '../project.js';
import { writeFileAtomic } from '../util/atomic.js';
import { loadPipeline } from './load.js';
import type { Pipeline } from './types.js';

export interface NewStage {
  name: string;
  cmd: string;
  deps: string[];
  params: string[];
  outs: string[];
  outsNoCache: string[];
  outsPersist: string[];
  metrics: string[];
  metricsNoCache: string[];
  plots: string[];
  plotsNoCache: string[];
  wdir?: string;
  desc?: string;
  alwaysChanged?: boolean;
}

/** The pipeline file to edit: the existing one, else dvc.yaml in a DVC repository, else pipeline.yaml. */
export function pipelineFileFor(root: string): string {
  const existing = PIPELINE_FILES.find((f) => existsSync(path.join(root, f)));
  if (existing) return existing;
  return existsSync(path.join(root, '.dvc')) ? 'dvc.yaml' : 'pipeline.yaml';
}

async function readDoc(root: string, file: string): Promise<{ text: string; doc: Document }> {
  const text = await fs.readFile(path.join(root, file), 'utf8').catch(() => '');
  const doc = YAML.parseDocument(text);
  if (doc.errors.length)
    throw new LockstepError('yaml-syntax', `${file}: ${doc.errors[0]!.message.split('\n')[0]}`, `Fix ${file} first.`);
  return { text, doc };
}

/** Whether the file writes `key:\n  - item` (indented) rather than DVC's `key:\n- item`; DVC's style by default. */
export function indentsSequences(text: string): boolean {
  const lines = text.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const key = /^(\s*)[^\s#-][^:]*:\s*(#.*)?$/.exec(lines[i]!);
    const item = /^(\s*)- /.exec(lines[i + 1]!);
    if (key && item) return item[1]!.length > key[1]!.length;
  }
  return false;
}

/** Write the edited document; roll back to `before` when the result does not load. */
async function commit(root: string, file: string, before: string, doc: Document): Promise<Pipeline> {
  const abs = path.join(root, file);
  await writeFileAtomic(abs, doc.toString({ indentSeq: indentsSequences(before) }));
  try {
    return await loadPipeline(root);
  } catch (e) {
    if (before === '') await fs.rm(abs, { force: true });
    else await writeFileAtomic(abs, before);
    throw e;
  }
}

/** `dvc stage add`'s layout: outputs without cache as `- path: {cache: false}`. */
function pathList(doc: Document, plain: string[], noCache: string[], persist: string[] = []) {
  const items: unknown[] = [...plain];
  for (const p of noCache) items.push({ [p]: { cache: false } });
  for (const p of persist) items.push({ [p]: { persist: true } });
  return doc.createNode(items);
}

export async function addStage(
  root: string,
  stage: NewStage,
  opts: { force?: boolean } = {},
): Promise<{ file: string; replaced: boolean }> {
  if (!/^[A-Za-z0-9_][\w.-]*$/.test(stage.name))
    throw new LockstepError('usage', `invalid stage name '${stage.name}'`, 'Use letters, digits, _ . and -.');
  const file = pipelineFileFor(root);
  const { text, doc } = await readDoc(root, file);
  if (!doc.contents) doc.contents = doc.createNode({}) as never;
  if (!isMap(doc.contents)) throw new LockstepError('config', `${file}: the top level is not a mapping`, 'Fix it.');
  if (!doc.has('stages') || !isMap(doc.get('stages'))) doc.set('stages', doc.createNode({}));
  const replaced = doc.hasIn(['stages', stage.name]);
  if (replaced && !opts.force)
    throw new LockstepError(
      'usage',
      `stage '${stage.name}' already exists in '${file}'`,
      'Use --force to overwrite it.',
    );
  const body = doc.createNode({}) as YAML.YAMLMap;
  body.set('cmd', stage.cmd);
  if (stage.wdir) body.set('wdir', stage.wdir);
  if (stage.desc) body.set('desc', stage.desc);
  if (stage.deps.length) body.set('deps', doc.createNode(stage.deps));
  if (stage.params.length) body.set('params', doc.createNode(stage.params));
  if (stage.outs.length + stage.outsNoCache.length + stage.outsPersist.length)
    body.set('outs', pathList(doc, stage.outs, stage.outsNoCache, stage.outsPersist));
  if (stage.metrics.length + stage.metricsNoCache.length)
    body.set('metrics', pathList(doc, stage.metrics, stage.metricsNoCache));
  if (stage.plots.length + stage.plotsNoCache.length) body.set('plots', pathList(doc, stage.plots, stage.plotsNoCache));
  if (stage.alwaysChanged) body.set('always_changed', true);
  doc.setIn(['stages', stage.name], body);
  await commit(root, file, text, doc);
  return { file, replaced };
}

/** `freeze` / `unfreeze`: `frozen: true` in the stage's definition (removed again on unfreeze). */
export async function setFrozen(root: string, names: string[], frozen: boolean): Promise<string> {
  const file = pipelineFileFor(root);
  const { text, doc } = await readDoc(root, file);
  for (const name of names) {
    const group = name.split('@')[0]!;
    if (!doc.hasIn(['stages', group])) {
      const known = isMap(doc.get('stages')) ? (doc.get('stages') as YAML.YAMLMap).items.map((p) => String(p.key)) : [];
      throw new LockstepError(
        'unknown-stage',
        `no stage '${name}' in ${file}`,
        known.length ? `Stages: ${known.join(', ')}.` : 'Add one with `lockstep stage add`.',
      );
    }
    if (name.includes('@'))
      throw new LockstepError(
        'usage',
        `'${name}' is generated by foreach/matrix`,
        `Freeze the whole group '${group}' instead (it sets frozen on its definition).`,
      );
    const isGen = doc.hasIn(['stages', group, 'foreach']);
    const at = isGen ? ['stages', group, 'do', 'frozen'] : ['stages', group, 'frozen'];
    if (frozen) doc.setIn(at, true);
    else doc.deleteIn(at);
  }
  await commit(root, file, text, doc);
  return file;
}
