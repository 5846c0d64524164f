// moved to src/util/gitignore.ts (the .dvc use cases need it below the pipeline); kept while branches import it here
export * from '../util/gitignore.js';
