/**
 * A plot definition and the rows of each run -> one Vega-Lite spec with its data inline, following
 * DVC's templates (dvc-render): linear, simple, scatter, smooth draw y against x with one line per
 * field and run; confusion and confusion_normalized count (x, y) pairs; bar_horizontal(_sorted) draw
 * one bar per y category. Pure: no files, no rendering.
 */
import type { PlotTemplate } from '../config/types.js';
import { fieldsOf, type Row } from './data.js';
import type { PlotDefinition } from './definitions.js';

export type VegaLiteSpec = Record<string, unknown>;

export interface RunRows {
  rev: string;
  /** Rows of each source file read for this run (a missing file is absent). */
  files: Map<string, Row[]>;
}

export interface BuiltSpec {
  spec: VegaLiteSpec;
  /** The series drawn (legend entries): one per y field and run, or one per run for matrices and bars. */
  series: string[];
  /** Data points drawn (rows after the series are split out). */
  points: number;
  revs: string[];
  template: PlotTemplate;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const WIDTH = 520;
const HEIGHT = 300;

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  return Number.isFinite(n) ? n : undefined;
};

export function buildSpec(def: PlotDefinition, runs: RunRows[]): BuiltSpec | undefined {
  const template: PlotTemplate = def.props.template ?? 'linear';
  const present = runs.filter((r) => def.sources.some((s) => r.files.get(s.file)?.length));
  if (!present.length) return undefined;
  switch (template) {
    case 'confusion':
    case 'confusion_normalized':
      return confusion(def, present, template === 'confusion_normalized');
    case 'bar_horizontal':
    case 'bar_horizontal_sorted':
      return bars(def, present, template === 'bar_horizontal_sorted');
    default:
      return curves(def, present, template);
  }
}

function base(def: PlotDefinition): VegaLiteSpec {
  return { $schema: SCHEMA, title: def.props.title ?? def.id, width: WIDTH, height: HEIGHT };
}

/** linear, simple, scatter, smooth: one series per (run, file, y field). */
function curves(def: PlotDefinition, runs: RunRows[], template: PlotTemplate): BuiltSpec {
  const values: Row[] = [];
  const multiFile = new Set(def.sources.map((s) => s.file)).size > 1;
  const yNames = new Set<string>();
  let xName: string | undefined;
  for (const run of runs) {
    for (const src of def.sources) {
      const rows = run.files.get(src.file);
      if (!rows?.length) continue;
      const ys = src.y.length
        ? src.y
        : fieldsOf(rows)
            .filter((f) => f !== src.x)
            .slice(-1);
      xName ??= src.x;
      for (const y of ys) {
        yNames.add(y);
        const field = multiFile ? `${src.file}: ${y}` : y;
        rows.forEach((row, i) => {
          const yv = num(row[y]);
          if (yv === undefined) return;
          const xv = src.x === undefined ? i : (num(row[src.x]) ?? row[src.x]);
          values.push({ rev: run.rev, field, x: xv, y: yv });
        });
      }
    }
  }
  const fieldCount = new Set(values.map((v) => v.field)).size;
  for (const v of values) {
    v.series = runs.length > 1 ? (fieldCount > 1 ? `${v.rev}: ${v.field}` : String(v.rev)) : String(v.field);
  }
  const series = [...new Set(values.map((v) => String(v.series)))];
  const xTitle = def.props.x_label ?? xName ?? 'step';
  const yTitle = def.props.y_label ?? (yNames.size === 1 ? [...yNames][0] : 'value');
  const xType = values.every((v) => typeof v.x === 'number') ? 'quantitative' : 'ordinal';
  const integers = values.every((v) => Number.isInteger(v.x));
  const encoding = {
    x: { field: 'x', type: xType, title: xTitle, ...(integers ? { axis: { tickMinStep: 1, format: 'd' } } : {}) },
    y: { field: 'y', type: 'quantitative', title: yTitle, scale: { zero: false } },
    color: { field: 'series', type: 'nominal', title: runs.length > 1 ? 'run' : 'series', sort: series },
    tooltip: [
      { field: 'series', title: 'series' },
      { field: 'x', title: xTitle },
      { field: 'y', title: yTitle, format: '.4~g' },
    ],
  };
  const spec = base(def);
  spec.data = { values };
  if (template === 'scatter') {
    spec.mark = { type: 'point', filled: true, size: 40 };
    spec.encoding = encoding;
  } else if (template === 'smooth') {
    spec.params = [{ name: 'smooth', value: 0.3, bind: { input: 'range', min: 0.05, max: 1, step: 0.05 } }];
    spec.layer = [
      { mark: { type: 'line', opacity: 0.25 }, encoding },
      {
        transform: [{ loess: 'y', on: 'x', groupby: ['series'], bandwidth: { signal: 'smooth' } }],
        mark: 'line',
        encoding: { x: encoding.x, y: encoding.y, color: encoding.color },
      },
    ];
  } else {
    spec.mark = template === 'linear' ? { type: 'line', point: true, tooltip: true } : { type: 'line' };
    spec.encoding = encoding;
  }
  return { spec, series, points: values.length, revs: runs.map((r) => r.rev), template };
}

/** The (x, y) category fields of a matrix or bar plot and the rows that carry them. */
function pairs(def: PlotDefinition, runs: RunRows[]) {
  const src = def.sources[0];
  const xField = src?.x ?? 'actual';
  const yField = src?.y[0] ?? 'predicted';
  const perRun = runs.map((run) => ({ rev: run.rev, rows: (src && run.files.get(src.file)) || [] }));
  return { xField, yField, perRun };
}

function confusion(def: PlotDefinition, runs: RunRows[], normalized: boolean): BuiltSpec {
  const { xField, yField, perRun } = pairs(def, runs);
  const values: Row[] = [];
  for (const { rev, rows } of perRun) {
    for (const r of rows) {
      if (r[xField] === undefined || r[yField] === undefined) continue;
      values.push({ rev, actual: String(r[xField]), predicted: String(r[yField]) });
    }
  }
  const value = normalized ? 'share' : 'count';
  const transform: unknown[] = [{ aggregate: [{ op: 'count', as: 'count' }], groupby: ['rev', 'actual', 'predicted'] }];
  if (normalized)
    transform.push(
      { joinaggregate: [{ op: 'sum', field: 'count', as: 'total' }], groupby: ['rev', 'actual'] },
      { calculate: 'datum.count / datum.total', as: 'share' },
    );
  const xTitle = def.props.x_label ?? xField;
  const yTitle = def.props.y_label ?? yField;
  const cell = {
    width: 360,
    height: 360,
    transform,
    encoding: {
      x: { field: 'actual', type: 'nominal', title: xTitle, sort: 'ascending' },
      y: { field: 'predicted', type: 'nominal', title: yTitle, sort: 'ascending' },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: { field: value, type: 'quantitative', title: normalized ? 'share of true class' : 'images' },
          tooltip: [
            { field: 'actual', title: xTitle },
            { field: 'predicted', title: yTitle },
            { field: 'count', title: 'images' },
            ...(normalized ? [{ field: 'share', format: '.1%' }] : []),
          ],
        },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: value, type: 'quantitative', ...(normalized ? { format: '.2f' } : {}) },
          color: {
            condition: { test: `datum['${value}'] > ${normalized ? 0.5 : 'datum.total_max * 0.5'}`, value: 'white' },
            value: 'black',
          },
        },
      },
    ],
  };
  if (!normalized) {
    // the text colour flips on the darker half of the scale: needs the largest count of the run
    transform.push({ joinaggregate: [{ op: 'max', field: 'count', as: 'total_max' }], groupby: ['rev'] });
  }
  const { width: _w, height: _h, ...shared } = base(def);
  const spec: VegaLiteSpec =
    runs.length > 1
      ? {
          ...shared,
          data: { values },
          facet: { column: { field: 'rev', type: 'nominal', title: null, sort: runs.map((r) => r.rev) } },
          spec: cell,
          resolve: { scale: { color: 'independent' } },
        }
      : { ...shared, data: { values }, ...cell };
  return {
    spec,
    series: runs.map((r) => r.rev),
    points: values.length,
    revs: runs.map((r) => r.rev),
    template: normalized ? 'confusion_normalized' : 'confusion',
  };
}

function bars(def: PlotDefinition, runs: RunRows[], sorted: boolean): BuiltSpec {
  const { xField, yField, perRun } = pairs(def, runs);
  const values: Row[] = [];
  for (const { rev, rows } of perRun) {
    for (const r of rows) {
      const x = num(r[xField]);
      if (x === undefined || r[yField] === undefined) continue;
      values.push({ rev, x, y: String(r[yField]) });
    }
  }
  const xTitle = def.props.x_label ?? xField;
  const yTitle = def.props.y_label ?? yField;
  const spec = base(def);
  spec.height = { step: runs.length > 1 ? 10 * runs.length + 6 : 20 };
  spec.data = { values };
  spec.mark = { type: 'bar', tooltip: true };
  spec.encoding = {
    x: { field: 'x', type: 'quantitative', title: xTitle },
    y: { field: 'y', type: 'nominal', title: yTitle, sort: sorted ? '-x' : null },
    ...(runs.length > 1
      ? {
          color: { field: 'rev', type: 'nominal', title: 'run', sort: runs.map((r) => r.rev) },
          yOffset: { field: 'rev', sort: runs.map((r) => r.rev) },
        }
      : {}),
  };
  return {
    spec,
    series: runs.map((r) => r.rev),
    points: values.length,
    revs: runs.map((r) => r.rev),
    template: sorted ? 'bar_horizontal_sorted' : 'bar_horizontal',
  };
}
