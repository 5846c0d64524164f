/** `lockstep model …` and `lockstep retrain`: parse, call one use case, render. */
import type { Decision } from '../model/challenge.js';
import type { ShownArtifact } from '../model/registry.js';
import { openProject } from '../project.js';
import { drawTable } from './render.js';
import { errLine, out } from './options.js';

type Json = { json?: boolean };

const short = (h: string | undefined): string => (h ? h.slice(0, 8) : '-');
const num = (v: unknown): string =>
  typeof v === 'number' ? String(Number(v.toPrecision(6))) : v === undefined ? '-' : String(v);

function splitRef(ref: string): { name: string; version?: string } {
  const at = ref.indexOf('@');
  return at < 0 ? { name: ref } : { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

export async function register(
  name: string,
  opts: Json & { version?: string; bump?: string; exp?: string; rev?: string; path?: string },
): Promise<number> {
  const { registerVersion } = await import('../model/registry.js');
  const project = await openProject();
  const bump = opts.bump === 'major' || opts.bump === 'patch' ? opts.bump : 'minor';
  const r = await registerVersion(project, {
    name,
    bump,
    ...(opts.version ? { version: opts.version } : {}),
    ...(opts.exp ? { exp: opts.exp } : {}),
    ...(opts.rev ? { rev: opts.rev } : {}),
    ...(opts.path ? { path: opts.path } : {}),
  });
  if (opts.json) out(JSON.stringify(r, null, 2));
  else if (r.existing) out(`${r.name}@${r.version} already registers commit ${short(r.commit)}: nothing to do.`);
  else
    out(
      `Registered ${r.name}@${r.version} (tag ${r.tag}, ${r.meta.path} ${short(r.meta.md5)}). Push it with: git push ` +
        `origin ${r.tag}`,
    );
  return 0;
}

export async function list(opts: Json): Promise<number> {
  const { listModels } = await import('../model/registry.js');
  const models = await listModels((await openProject()).root);
  if (opts.json) {
    out(JSON.stringify(models, null, 2));
    return 0;
  }
  if (models.length === 0) {
    out('No models registered yet (lockstep model register NAME --exp EXP).');
    return 0;
  }
  const stages = [...new Set(models.flatMap((m) => Object.keys(m.stages)))].sort();
  const body = models.map((m) => [
    m.deprecated ? `${m.name} (deprecated)` : m.name,
    m.versions.find((v) => !v.deregistered)?.version ?? '-',
    ...stages.map((s) => m.stages[s] ?? '-'),
  ]);
  out(
    drawTable(
      ['name', 'latest', ...stages.map((s) => `#${s}`)],
      body,
      body[0]!.map(() => false),
    ),
  );
  return 0;
}

function metricsLine(m: Record<string, Record<string, unknown>> | undefined): string {
  if (!m) return '-';
  return (
    Object.entries(m)
      .flatMap(([file, kv]) =>
        Object.entries(kv)
          .filter(([, v]) => typeof v === 'number')
          .map(([k, v]) => `${file}:${k}=${num(v)}`),
      )
      .slice(0, 3)
      .join(' ') || '-'
  );
}

export async function show(ref: string, opts: Json): Promise<number> {
  const { showModel, resolveSpec } = await import('../model/registry.js');
  const root = (await openProject()).root;
  const { name, version } = splitRef(ref.split('#')[0]!);
  let a: ShownArtifact = await showModel(root, name);
  if (version || ref.includes('#')) {
    const v = (await resolveSpec(root, ref)).version;
    a = { ...a, versions: [v] };
  }
  if (opts.json) {
    out(JSON.stringify(a, null, 2));
    return 0;
  }
  const body = a.versions.map((v) => {
    const decision = (v.meta as { decision?: Decision } | null)?.decision;
    return [
      v.deregistered ? `${v.version} (deprecated)` : v.version,
      v.stages.join(',') || '-',
      v.created.slice(0, 19).replace('T', ' '),
      metricsLine(v.meta?.metrics),
      short(v.meta?.data?.md5),
      v.meta?.source.exp ?? short(v.commit),
      decision ? (decision.promoted ? 'promoted' : 'kept champion') : '-',
    ];
  });
  out(`${a.name}${a.deprecated ? ' (deprecated)' : ''}`);
  out(
    drawTable(
      ['version', 'stages', 'created', 'metrics', 'data', 'source', 'challenge'],
      body,
      body[0]?.map(() => false) ?? [],
    ),
  );
  return 0;
}

export async function assign(ref: string, stage: string, opts: Json): Promise<number> {
  const { assignStage } = await import('../model/registry.js');
  const { name, version } = splitRef(ref);
  if (!version) {
    const { LockstepError } = await import('../errors.js');
    throw new LockstepError('usage', `'${ref}' names no version`, 'Use NAME@vX.Y.Z, e.g. cifar10-cnn@v0.2.0.');
  }
  const r = await assignStage(await openProject(), name, version, stage);
  if (opts.json) out(JSON.stringify(r, null, 2));
  else if (r)
    out(
      `${name}@${version} is now in ${stage}${r.previous ? ` (was ${r.previous})` : ''}. Push it with: git push ` +
        `origin '${r.tag}'`,
    );
  return 0;
}

export async function get(
  ref: string,
  opts: Json & { out?: string; remote?: string; force?: boolean },
): Promise<number> {
  const { getArtifact } = await import('../model/get.js');
  const r = await getArtifact(await openProject(), ref, {
    ...(opts.out ? { out: opts.out } : {}),
    ...(opts.remote ? { remote: opts.remote } : {}),
    force: !!opts.force,
  });
  if (opts.json) out(JSON.stringify(r, null, 2));
  else out(`${r.name}@${r.version} -> ${r.out}${r.fetched ? ' (fetched from the remote)' : ''}`);
  return 0;
}

export async function deprecate(ref: string, stage: string | undefined): Promise<number> {
  const { deprecate: run } = await import('../model/registry.js');
  const { name, version } = splitRef(ref);
  const tag = await run(await openProject(), name, version, stage);
  out(`Created tag ${tag}. Push it with: git push origin '${tag}'`);
  return 0;
}

function describe(d: Decision): string {
  const who = `${d.challenger.exp}${d.challenger.version ? ` (${d.rule.model}@${d.challenger.version})` : ''}`;
  const champ = d.champion
    ? ` against ` +
      `${d.rule.model}@${d.champion.version}${d.champion.rescored ? ' (scored again on the same test set)' : ''}`
    : '';
  const verb = d.dry
    ? d.promoted
      ? 'would be promoted'
      : 'would not be promoted'
    : d.promoted
      ? `promoted to ${d.rule.stage}`
      : 'not promoted';
  return `${who}${champ}: ${verb}: ${d.reason}`;
}

export async function challenge(exps: string[], opts: Json & { dry?: boolean }): Promise<number> {
  const { challenge: run } = await import('../model/challenge.js');
  const { DEFAULT_BIN } = await import('../exp/run.js');
  const decisions = await run(await openProject(), {
    exps,
    dry: !!opts.dry,
    bin: DEFAULT_BIN,
    onEvent: (e) => {
      if (opts.json) return;
      if (e.type === 'rescoring') errLine(`Scoring champion ${e.champion} on ${e.exp}'s test set…`);
      if (e.type === 'retry') errLine(`${e.exp}: ${e.why}; deciding again`);
    },
  });
  if (opts.json) out(JSON.stringify(decisions, null, 2));
  else for (const d of decisions) out(describe(d));
  return 0;
}

export async function retrain(opts: Json & { ifDataChanged?: boolean; dry?: boolean; name?: string }): Promise<number> {
  const { retrain: run } = await import('../model/retrain.js');
  const { DEFAULT_BIN } = await import('../exp/run.js');
  const r = await run(await openProject(), {
    ifDataChanged: !!opts.ifDataChanged,
    dry: !!opts.dry,
    bin: DEFAULT_BIN,
    ...(opts.name ? { name: opts.name } : {}),
    onEvent: (e) => {
      if (opts.json) return;
      if (e.type === 'refreshing') errLine(`Refreshing the data (stage '${e.stage}')…`);
      if (e.type === 'exp' && e.event.type === 'start') errLine(`Training ${e.event.name}…`);
      if (e.type === 'challenge' && e.event.type === 'rescoring')
        errLine(`Scoring champion ${e.event.champion} on the same test set…`);
    },
  });
  if (opts.json) {
    out(JSON.stringify(r, null, 2));
    return 0;
  }
  const data = `${r.data.path} ${short(r.data.md5)}`;
  if (!r.ran) {
    out(
      r.knownAs
        ? `Data unchanged (${data}, trained on by ${r.knownAs}): nothing to do.`
        : `Data ${data} is new: it would be trained on.`,
    );
    return 0;
  }
  if (r.experiment?.state !== 'success') {
    errLine(`lockstep: the retraining experiment ${r.experiment?.name} failed. See \`lockstep exp show\`.`);
    return 1;
  }
  out(`Data ${data} is new; trained ${r.experiment.name}.`);
  if (r.decision) out(describe(r.decision));
  return 0;
}
