// Exports wasmesh:examples/types: every function returns its argument unchanged.
const same = (v) => v

// A top-level result is returned as its ok payload or thrown as its err payload.
function settle(v) {
  if (v.tag === 'err') throw v.val
  return v.val
}

export const types = {
  echoBool: same,
  echoU8: same,
  echoU16: same,
  echoU32: same,
  echoU64: same,
  echoS8: same,
  echoS16: same,
  echoS32: same,
  echoS64: same,
  echoF32: same,
  echoF64: same,
  echoChar: same,
  echoString: same,
  echoBytes: same,
  echoU16s: same,
  echoStrings: same,
  echoNestedList: same,
  echoRecord: same,
  echoVariant: same,
  echoEnum: same,
  echoFlags: same,
  echoOption: same,
  echoNestedOption: same,
  echoResult: settle,
  echoResultOk: settle,
  echoResultErr: settle,
  echoResultEmpty: settle,
  echoTuple: same,
  echoRecords: same,
  echoMany(a, b, c) {
    return [a, b, c]
  }
}
