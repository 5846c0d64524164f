/** Registers `lockstep model <verb>` and `lockstep retrain`; the code of each verb loads when it runs. */
import type { Command } from 'commander';
import { lazy } from './lazy.js';

type Verb = 'register' | 'list' | 'show' | 'assign' | 'get' | 'deprecate' | 'challenge' | 'retrain';

export function registerModelCommands(program: Command): void {
  const verb = (name: Verb) => lazy(async () => ({ run: (await import('./model.js'))[name] }));
  const model = program
    .command('model')
    .description('model registry in git tags (GTO format): versions, stages, champion and challenger');

  model
    .command('register')
    .description('register a version of a model from an experiment or a commit')
    .argument('<name>', 'model name (lower-case letters, digits, dashes)')
    .option('--version <v>', 'version vMAJOR.MINOR.PATCH (default: next minor)')
    .option('--bump <part>', 'major, minor or patch for the default version', 'minor')
    .option('--exp <name>', 'the experiment whose output is the model')
    .option('--rev <rev>', 'the commit whose output is the model (default HEAD)')
    .option('--path <path>', 'the output that is the model (default: models.NAME.path in the config)')
    .option('--json', 'print JSON')
    .action((name, opts) => verb('register')(name, opts));

  model
    .command('list')
    .alias('ls')
    .description('models with their latest version and stages')
    .option('--json', 'print JSON')
    .action((opts) => verb('list')(opts));

  model
    .command('show')
    .description("a model's versions: stage, metrics, data hash, source")
    .argument('<ref>', 'NAME, NAME@vX.Y.Z, NAME@latest or NAME#STAGE')
    .option('--json', 'print JSON')
    .action((ref, opts) => verb('show')(ref, opts));

  model
    .command('assign')
    .alias('promote')
    .description('assign a stage (prod, staging…) to a version')
    .argument('<ref>', 'NAME@vX.Y.Z')
    .argument('<stage>', 'stage name')
    .option('--json', 'print JSON')
    .action((ref, stage, opts) => verb('assign')(ref, stage, opts));

  model
    .command('get')
    .description("copy a version's artifact into a folder (from the cache, else the remote)")
    .argument('<ref>', 'NAME, NAME@vX.Y.Z, NAME@latest or NAME#STAGE')
    .option('-o, --out <dir>', 'folder to write (default ./NAME@VERSION)')
    .option('-r, --remote <name>', 'remote to fetch from when the cache lacks it')
    .option('-f, --force', 'replace the folder when it exists')
    .option('--json', 'print JSON')
    .action((ref, opts) => verb('get')(ref, opts));

  model
    .command('deprecate')
    .description('deprecate a model (NAME), a version (NAME@vX.Y.Z) or a stage of a version (NAME@vX.Y.Z STAGE)')
    .argument('<ref>', 'NAME or NAME@vX.Y.Z')
    .argument('[stage]', 'unassign this stage from the version instead')
    .action((ref, stage, opts) => verb('deprecate')(ref, stage, opts));

  model
    .command('challenge')
    .description('score experiments against the champion on the same test set; promote only when better')
    .argument('<exps...>', 'experiment names or shas')
    .option('--dry', 'say what would happen, change nothing')
    .option('--json', 'print the decisions as JSON')
    .action((exps, opts) => verb('challenge')(exps, opts));

  program
    .command('retrain')
    .description('refresh the data; when its hash is new, train as an experiment and challenge the champion')
    .option('--if-data-changed', 'do nothing when a registered version was trained on the same data')
    .option('--dry', 'refresh and hash the data, then say what would happen')
    .option('-n, --name <name>', 'experiment name (default retrain-<data hash>)')
    .option('--json', 'print the result as JSON')
    .action((opts) => verb('retrain')(opts));
}
