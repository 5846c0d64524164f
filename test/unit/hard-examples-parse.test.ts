import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LockstepError } from '../../src/errors.js';
import { parsePredictionsCsv } from '../../src/report/index.js';
import { CLASSES, RUN_A, predictionsCsv } from './hard-examples-fixtures.js';

const SRC = "experiment 'a' results/predictions.csv";
const HEAD = 'id,path,true_label,pred_label,p_true,p_pred,p_cat,p_dog,p_frog';

function reportError(text: string, message: string) {
  assert.throws(
    () => parsePredictionsCsv(text, SRC),
    (e: unknown) => {
      assert.ok(e instanceof LockstepError);
      assert.equal(e.reason, 'report');
      assert.equal(e.message, message);
      assert.ok(!e.message.includes('\n'), 'one line');
      return true;
    },
  );
}

test('parses the evaluate stage format: classes from p_<class>, rows with full vectors', () => {
  const parsed = parsePredictionsCsv(predictionsCsv(CLASSES, RUN_A), SRC);
  assert.deepEqual(parsed.classes, CLASSES);
  assert.equal(parsed.rows.length, 4);
  assert.deepEqual(parsed.rows[0], {
    id: 'img1',
    path: 'data/p/cat/img1.png',
    trueLabel: 'cat',
    predLabel: 'dog',
    pTrue: 0.2,
    pPred: 0.7,
    probs: [0.2, 0.7, 0.1],
  });
});

test('CRLF line ends, a BOM, quoted fields with commas and quotes, no final newline', () => {
  const text = `\ufeff${HEAD}\r\n"a,1","data/""q""/a.png",cat,dog,0.1,0.9,0.1,0.9,0`;
  const parsed = parsePredictionsCsv(text, SRC);
  assert.equal(parsed.rows[0]?.id, 'a,1');
  assert.equal(parsed.rows[0]?.path, 'data/"q"/a.png');
});

test('header problems', () => {
  reportError('', `${SRC} is empty`);
  reportError(
    'id,path,true,pred_label,p_true,p_pred,p_cat,p_dog\n',
    `${SRC}:1: header is 'id,path,true,pred_label,p_true,p_pred,p_cat,p_dog', expected ` +
      `id,path,true_label,pred_label,p_true,p_pred,p_<class>,… (two classes or more)`,
  );
  reportError(
    'id,path,true_label,pred_label,p_true,p_pred,p_cat\n',
    `${SRC}:1: header is 'id,path,true_label,pred_label,p_true,p_pred,p_cat', expected ` +
      `id,path,true_label,pred_label,p_true,p_pred,p_<class>,… (two classes or more)`,
  );
  reportError(
    'id,path,true_label,pred_label,p_true,p_pred,p_cat,p_cat\n',
    `${SRC}:1: malformed predictions row: class 'cat' has two columns`,
  );
});

test('malformed rows name the file and the line', () => {
  const good = 'img1,x.png,cat,dog,0.2,0.7,0.2,0.7,0.1';
  const hint = (line: number, what: string) => `${SRC}:${line}: malformed predictions row: ${what}`;
  reportError(`${HEAD}\n${good}\nimg2,x.png,cat,dog,0.2\n`, hint(3, '5 columns, the header has 9'));
  reportError(
    `${HEAD}\n${good}\nimg2,x.png,cat,dog,0.2,abc,0.2,0.7,0.1\n`,
    hint(3, "p_pred 'abc' is not a probability between 0 and 1"),
  );
  reportError(
    `${HEAD}\n${good}\nimg2,x.png,cat,dog,0.2,0.7,0.2,1.5,0.1\n`,
    hint(3, "p_dog '1.5' is not a probability between 0 and 1"),
  );
  reportError(
    `${HEAD}\n${good}\nimg2,x.png,cat,dog,,0.7,0.2,0.7,0.1\n`,
    hint(3, "p_true '' is not a probability between 0 and 1"),
  );
  reportError(
    `${HEAD}\n${good}\nimg2,x.png,bird,dog,0.2,0.7,0.2,0.7,0.1\n`,
    hint(3, "true_label 'bird' is not one of cat,dog,frog"),
  );
  reportError(
    `${HEAD}\n${good}\nimg2,x.png,cat,Dog,0.2,0.7,0.2,0.7,0.1\n`,
    hint(3, "pred_label 'Dog' is not one of cat,dog,frog"),
  );
  reportError(`${HEAD}\n${good}\n${good}\n`, hint(3, 'id img1 already on line 2'));
  reportError(
    `${HEAD}\n${good}\nimg2,x.png,cat,dog,0.2,0.7,0.7,0.2,0.1\n`,
    hint(3, 'p_true 0.2 differs from p_cat 0.7'),
  );
  reportError(
    `${HEAD}\n${good}\nimg2,x.png,cat,frog,0.2,0.7,0.2,0.7,0.1\n`,
    hint(3, 'p_pred 0.7 differs from p_frog 0.1'),
  );
  reportError(`${HEAD}\n${good}\n,x.png,cat,dog,0.2,0.7,0.2,0.7,0.1\n`, hint(3, 'empty id'));
  reportError(`${HEAD}\n"img2,x.png,cat,dog,0.2,0.7,0.2,0.7,0.1\n`, hint(2, 'a quoted field is not closed'));
  reportError(`${HEAD}\n"img2"x,x.png,cat,dog,0.2,0.7,0.2,0.7,0.1\n`, hint(2, 'text after a closing quote'));
});

test('a quoted newline keeps later line numbers right', () => {
  const text = `${HEAD}\n"multi\nline",x.png,cat,dog,0.2,0.7,0.2,0.7,0.1\nbad,x.png,cat,dog,0.2,0.7,0.2,0.7\n`;
  reportError(text, `${SRC}:4: malformed predictions row: 8 columns, the header has 9`);
});
