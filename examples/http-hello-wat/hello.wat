;; wasi:http/incoming-handler as a hand-written core module: an HTTP hello with no guest JS engine, what a
;; component compiled from Rust or Go costs. Answers every request 200 with the same 20 bytes.
(module
  (import "wasi:http/types@0.2.10" "[constructor]fields" (func $fields_new (result i32)))
  (import "wasi:http/types@0.2.10" "[constructor]outgoing-response" (func $response_new (param i32) (result i32)))
  (import "wasi:http/types@0.2.10" "[method]outgoing-response.body" (func $response_body (param i32 i32)))
  (import "wasi:http/types@0.2.10" "[method]outgoing-body.write" (func $body_write (param i32 i32)))
  (import "wasi:http/types@0.2.10" "[static]outgoing-body.finish" (func $body_finish (param i32 i32 i32 i32)))
  (import "wasi:http/types@0.2.10" "[static]response-outparam.set" (func $outparam_set (param i32 i32 i32 i32 i64 i32 i32 i32 i32)))
  (import "wasi:http/types@0.2.10" "[resource-drop]incoming-request" (func $drop_request (param i32)))
  (import "wasi:io/streams@0.2.10" "[method]output-stream.blocking-write-and-flush" (func $write_flush (param i32 i32 i32 i32)))
  (import "wasi:io/streams@0.2.10" "[resource-drop]output-stream" (func $drop_stream (param i32)))

  (memory (export "memory") 1)
  ;; bytes 16..32: the return area of every import that returns through memory (a tag, then a handle at +4)
  (data (i32.const 64) "Hello from wasmesh!\n")

  (func $cabi_realloc (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
    ;; nothing is ever handed to this module by pointer
    unreachable)

  (func (export "wasi:http/incoming-handler@0.2.10#handle") (param $request i32) (param $out i32)
    (local $response i32) (local $body i32) (local $stream i32)
    (call $drop_request (local.get $request))
    (local.set $response (call $response_new (call $fields_new)))
    (call $response_body (local.get $response) (i32.const 16))
    (if (i32.load8_u (i32.const 16)) (then unreachable))
    (local.set $body (i32.load (i32.const 20)))
    (call $body_write (local.get $body) (i32.const 16))
    (if (i32.load8_u (i32.const 16)) (then unreachable))
    (local.set $stream (i32.load (i32.const 20)))
    ;; the response (ok) goes out first, then its body
    (call $outparam_set (local.get $out) (i32.const 0) (local.get $response) (i32.const 0) (i64.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0))
    (call $write_flush (local.get $stream) (i32.const 64) (i32.const 20) (i32.const 16))
    (call $drop_stream (local.get $stream))
    (call $body_finish (local.get $body) (i32.const 0) (i32.const 0) (i32.const 16)))
)
