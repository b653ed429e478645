// Builds the tiny WAT-made test components (arith, with a loop, a trap, memory growth (in 16 MiB and in 64 KiB steps), a resource and a host import) for the runtime tests.
import { componentEmbed, componentNew, parse } from '@bytecodealliance/jco-transpile/wasm-tools'

export const fixtureWit = `
package local:test@0.1.0;

interface math {
  add: func(a: u32, b: u32) -> u32;
}

interface calc {
  add-via-host: func(a: u32, b: u32) -> u32;
  spin: func();
  boom: func();
  grow: func();
  hog: func();
  div: func(a: s32, b: s32) -> result<s32, u32>;
  echo: func(s: string) -> string;
  first: func(xs: list<u8>) -> option<u8>;
  resource acc {
    constructor(start: u64);
    add: func(n: u64);
    total: func() -> u64;
  }
}

world arith {
  import math;
  export calc;
  export double: func(x: u64) -> u64;
}
`

const coreWat = `
(module
  (import "local:test/math@0.1.0" "add" (func $host_add (param i32 i32) (result i32)))
  (import "[export]local:test/calc@0.1.0" "[resource-new]acc" (func $acc_new (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func $realloc (export "cabi_realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $new_size i32) (result i32)
    (local $p i32)
    (local.set $p (i32.and (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
                           (i32.sub (i32.const 0) (local.get $align))))
    (global.set $heap (i32.add (local.get $p) (local.get $new_size)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (if (i32.eq (memory.grow (i32.add (i32.shr_u (local.get $new_size) (i32.const 16)) (i32.const 1))) (i32.const -1))
        (then unreachable))))
    (if (i32.ne (local.get $old_size) (i32.const 0))
      (then (memory.copy (local.get $p) (local.get $old) (local.get $old_size))))
    (local.get $p))
  (func (export "local:test/calc@0.1.0#add-via-host") (param i32 i32) (result i32)
    (call $host_add (local.get 0) (local.get 1)))
  (func (export "local:test/calc@0.1.0#spin")
    (loop $l (br $l)))
  (func (export "local:test/calc@0.1.0#boom")
    unreachable)
  (func (export "local:test/calc@0.1.0#grow")
    (loop $l
      (br_if $l (i32.ne (memory.grow (i32.const 256)) (i32.const -1))))
    unreachable)
  ;; An allocator that asks for one more page until it is refused, then gives up as malloc would.
  (func (export "local:test/calc@0.1.0#hog")
    (loop $l
      (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable)
  (func (export "local:test/calc@0.1.0#div") (param $a i32) (param $b i32) (result i32)
    (if (i32.eqz (local.get $b))
      (then
        (i32.store8 (i32.const 16) (i32.const 1))
        (i32.store (i32.const 20) (i32.const 7)))
      (else
        (i32.store8 (i32.const 16) (i32.const 0))
        (i32.store (i32.const 20) (i32.div_s (local.get $a) (local.get $b)))))
    (i32.const 16))
  (func (export "local:test/calc@0.1.0#echo") (param $p i32) (param $n i32) (result i32)
    (i32.store (i32.const 32) (local.get $p))
    (i32.store (i32.const 36) (local.get $n))
    (i32.const 32))
  (func (export "local:test/calc@0.1.0#first") (param $p i32) (param $n i32) (result i32)
    (if (i32.eqz (local.get $n))
      (then (i32.store8 (i32.const 48) (i32.const 0)))
      (else
        (i32.store8 (i32.const 48) (i32.const 1))
        (i32.store8 (i32.const 49) (i32.load8_u (local.get $p)))))
    (i32.const 48))
  (func (export "local:test/calc@0.1.0#[constructor]acc") (param $start i64) (result i32)
    (local $rep i32)
    (local.set $rep (call $realloc (i32.const 0) (i32.const 0) (i32.const 8) (i32.const 8)))
    (i64.store (local.get $rep) (local.get $start))
    (call $acc_new (local.get $rep)))
  (func (export "local:test/calc@0.1.0#[method]acc.add") (param $self i32) (param $n i64)
    (i64.store (local.get $self) (i64.add (i64.load (local.get $self)) (local.get $n))))
  (func (export "local:test/calc@0.1.0#[method]acc.total") (param $self i32) (result i64)
    (i64.load (local.get $self)))
  (func (export "local:test/calc@0.1.0#[dtor]acc") (param $self i32))
  (func (export "double") (param i64) (result i64)
    (i64.mul (local.get 0) (i64.const 2)))
)
`

/** The arith fixture component: exports `local:test/calc@0.1.0` and `double`, imports `local:test/math@0.1.0`. */
export async function buildArith (): Promise<Uint8Array> {
  const core = await parse(coreWat)
  const embedded = await componentEmbed({ binary: core, witSource: fixtureWit, world: 'arith', stringEncoding: 'utf8' })
  return await componentNew(embedded)
}

/** WIT names jco changes the most: words in capitals, a `%`-escaped keyword, in a record field, a function and a resource. */
export const namesWit = `
package local:names@0.1.0;

interface api {
  resource HTTP-acc {
    constructor(start: u64);
    get-TOTAL: func() -> u64;
  }
  record holder {
    get-HTTP-body: HTTP-acc,
    %type: HTTP-acc,
  }
  make-HTTP-pair: func(a: u64, b: u64) -> holder;
}

world names {
  export api;
}
`

const namesWat = `
(module
  (import "[export]local:names/api@0.1.0" "[resource-new]HTTP-acc" (func $acc_new (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func $alloc (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (call $alloc (local.get 3)))
  (func $new (param $start i64) (result i32)
    (local $rep i32)
    (local.set $rep (call $alloc (i32.const 8)))
    (i64.store (local.get $rep) (local.get $start))
    (call $acc_new (local.get $rep)))
  (func (export "local:names/api@0.1.0#[constructor]HTTP-acc") (param i64) (result i32) (call $new (local.get 0)))
  (func (export "local:names/api@0.1.0#[method]HTTP-acc.get-TOTAL") (param $self i32) (result i64) (i64.load (local.get $self)))
  (func (export "local:names/api@0.1.0#make-HTTP-pair") (param $a i64) (param $b i64) (result i32)
    (i32.store (i32.const 16) (call $new (local.get $a)))
    (i32.store (i32.const 20) (call $new (local.get $b)))
    (i32.const 16))
  (func (export "local:names/api@0.1.0#[dtor]HTTP-acc") (param i32))
)
`

/** The names fixture component: exports `local:names/api@0.1.0`, whose record fields hold resources. */
export async function buildNames (): Promise<Uint8Array> {
  const core = await parse(namesWat)
  const embedded = await componentEmbed({ binary: core, witSource: namesWit, world: 'names', stringEncoding: 'utf8' })
  return await componentNew(embedded)
}
