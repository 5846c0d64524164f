// Patches tfjs-node's binding source (binding/tfjs_backend.cc) so that an op attribute may be a list of strings
// or a list of types, which the released binding cannot pass: oneDNN's fused convolution needs both (`fused_ops`,
// and `TArgs` in TensorFlow 2.18). scripts/tfjs-node-from-registries.sh runs it before node-gyp; idempotent.
//
//   node scripts/tfjs-node-binding-lists.mjs node_modules/@tensorflow/tfjs-node/binding/tfjs_backend.cc
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

const MARK = '// lockstep: list-valued attributes';
const file = process.argv[2];
if (!file) {
  console.error('usage: node scripts/tfjs-node-binding-lists.mjs <tfjs-node>/binding/tfjs_backend.cc');
  process.exit(2);
}
let source = readFileSync(file, 'utf8');
if (source.includes(MARK)) process.exit(0);

// Each list case goes first in its switch case; the element loop mirrors the binding's own list(int) case.
const cases = [
  {
    anchor: '    case TF_ATTR_STRING: {\n',
    body: `      ${MARK} (a list of strings, e.g. fused_ops).
      if (IsArray(env, nstatus, &js_value)) {
        uint32_t length;
        nstatus = napi_get_array_length(env, js_value, &length);
        ENSURE_NAPI_OK(env, nstatus);
        std::vector<std::string> strings(length);
        std::vector<const void *> values(length);
        std::vector<size_t> lengths(length);
        for (uint32_t i = 0; i < length; ++i) {
          napi_value element;
          nstatus = napi_get_element(env, js_value, i, &element);
          ENSURE_NAPI_OK(env, nstatus);
          nstatus = GetStringParam(env, element, strings[i]);
          ENSURE_NAPI_OK(env, nstatus);
          values[i] = strings[i].data();
          lengths[i] = strings[i].size();
        }
        TFE_OpSetAttrStringList(tfe_op, attr_name, values.data(), lengths.data(), static_cast<int>(length));
        break;
      }
`,
  },
  {
    anchor: '    case TF_ATTR_TYPE: {\n',
    body: `      // lockstep: a list of types (e.g. TArgs).
      if (IsArray(env, nstatus, &js_value)) {
        uint32_t length;
        nstatus = napi_get_array_length(env, js_value, &length);
        ENSURE_NAPI_OK(env, nstatus);
        std::vector<TF_DataType> types(length);
        for (uint32_t i = 0; i < length; ++i) {
          napi_value element;
          nstatus = napi_get_element(env, js_value, i, &element);
          ENSURE_NAPI_OK(env, nstatus);
          nstatus = napi_get_value_int32(env, element, reinterpret_cast<int32_t *>(&types[i]));
          ENSURE_NAPI_OK(env, nstatus);
        }
        TFE_OpSetAttrTypeList(tfe_op, attr_name, types.data(), static_cast<int>(length));
        break;
      }
`,
  },
];
for (const { anchor, body } of cases) {
  const at = source.indexOf(anchor);
  if (at < 0 || source.indexOf(anchor, at + 1) >= 0) {
    console.error(
      `tfjs-node-binding-lists: ${file} has no single "${anchor.trim()}"; this tfjs-node is not the one the patch knows`,
    );
    process.exit(1);
  }
  source = source.slice(0, at + anchor.length) + body + source.slice(at + anchor.length);
}
writeFileSync(`${file}.tmp`, source);
renameSync(`${file}.tmp`, file);
