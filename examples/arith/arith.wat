;; wasmesh:examples/arith as a hand-written core module: exact integers with no guest JS engine in the way.
(module
  (memory (export "memory") 1)

  ;; Bump allocator. Everything a call allocates dies when the call ends, so each post-return resets it.
  (global $heap_base i32 (i32.const 1024))
  (global $heap (mut i32) (i32.const 1024))

  ;; Bytes 8..16 are the return area of `echo` (pointer, length).
  (global $ret_area i32 (i32.const 8))

  (func $cabi_realloc (export "cabi_realloc")
    (param $old_ptr i32) (param $old_size i32) (param $align i32) (param $new_size i32) (result i32)
    (local $ptr i32) (local $end i32) (local $pages i32)
    (local.set $ptr
      (i32.and
        (i32.add (global.get $heap) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $ptr) (local.get $new_size)))
    (if (i32.lt_u (local.get $end) (local.get $ptr)) (then unreachable))
    (local.set $pages
      (i32.add
        (i32.shr_u (local.get $end) (i32.const 16))
        (i32.ne (i32.and (local.get $end) (i32.const 0xffff)) (i32.const 0))))
    (if (i32.gt_u (local.get $pages) (memory.size))
      (then
        (if (i32.eq (memory.grow (i32.sub (local.get $pages) (memory.size))) (i32.const -1))
          (then unreachable))))
    (global.set $heap (local.get $end))
    (if (local.get $old_ptr)
      (then
        (memory.copy (local.get $ptr) (local.get $old_ptr)
          (select (local.get $old_size) (local.get $new_size)
            (i32.lt_u (local.get $old_size) (local.get $new_size))))))
    (local.get $ptr))

  (func (export "wasmesh:examples/arith#add") (param $a i32) (param $b i32) (result i32)
    (i32.add (local.get $a) (local.get $b)))

  (func (export "wasmesh:examples/arith#add64") (param $a i64) (param $b i64) (result i64)
    (i64.add (local.get $a) (local.get $b)))

  (func (export "wasmesh:examples/arith#sub64") (param $a i64) (param $b i64) (result i64)
    (i64.sub (local.get $a) (local.get $b)))

  ;; The host copied the string into our memory with cabi_realloc; hand the same bytes back.
  (func (export "wasmesh:examples/arith#echo") (param $ptr i32) (param $len i32) (result i32)
    (i32.store (global.get $ret_area) (local.get $ptr))
    (i32.store offset=4 (global.get $ret_area) (local.get $len))
    (global.get $ret_area))

  (func (export "cabi_post_wasmesh:examples/arith#echo") (param i32)
    (global.set $heap (global.get $heap_base)))
)
